export {
  AuthClient,
  type AccessToken,
  type AuthClientOptions,
  type AuthFetch,
  type AuthMode,
  type AuthSnapshot,
  type AuthStatus,
  type BffCall,
  type BffError,
  type BindingOptions,
  type TokenBinding,
} from './AuthClient.js';
export { AuthClientError } from './errors.js';
export { TriggerManager, browserActivity, browserTriggers, type TriggerSetup } from './triggerManager.js';
export { browserChannel, browserLocks, type TabChannel, type TabLocks, type TabMessage } from './tabs.js';
