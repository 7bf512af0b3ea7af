export { startIdp, type IdpStats, type RunningIdp, type StartIdpOptions } from './server.js';
export { DEV_USERS, authenticate } from './accounts.js';
export { DEMO_API_AUDIENCE, DEMO_API_SCOPES, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET } from './config.js';
export { cookieJar, throughLoginForm, type CookieJar } from './loginForm.mjs';
