export { proxyMode, type ProxyModeOptions } from './proxyMode.js';
