export { ensureFresh } from './ensureFresh.js';
export { on, type AuthEvents } from './on.js';
