export { chromiumLaunchOptions } from './chromium.mjs';
