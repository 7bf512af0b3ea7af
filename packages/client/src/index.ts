export { AuthClient, type AccessToken, type AuthClientOptions, type AuthEvents, type AuthSnapshot, type AuthStatus } from './AuthClient.js';
export { AuthClientError } from './errors.js';
export { TriggerManager, browserTriggers, type TriggerSetup } from './triggerManager.js';
