export { AuthClient, type AccessToken, type AuthClientOptions, type AuthEvents, type AuthFetch, type AuthSnapshot, type AuthStatus } from './AuthClient.js';
export { AuthClientError } from './errors.js';
export { TriggerManager, browserActivity, browserTriggers, type TriggerSetup } from './triggerManager.js';
export { browserChannel, browserLocks, type TabChannel, type TabLocks, type TabMessage } from './tabs.js';
