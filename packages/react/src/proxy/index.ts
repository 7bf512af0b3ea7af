export { proxyMode, type ProxyModeOptions } from '@latchkey/client/proxy';
