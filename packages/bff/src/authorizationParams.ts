import { BffError, ConfigurationError } from './errors.js';

/**
 * Parameters of the authorization request the BFF sets itself. Letting configuration or a
 * sign-in link set them would undo PKCE, `state`, `nonce` or the registered redirect; `scope`
 * and `resource` have options of their own (`scope`, `allowedScopes`, `resource`), and
 * `response_mode`, `request` and `request_uri` would change how the answer comes back.
 */
const OWNED = new Map<string, string>([
  ['client_id', 'set from "clientId"'],
  ['redirect_uri', 'set from "redirectUri"'],
  ['response_type', 'always "code"'],
  ['state', 'made per sign-in'],
  ['nonce', 'made per sign-in'],
  ['code_challenge', 'made per sign-in (PKCE)'],
  ['code_challenge_method', 'always S256'],
  ['scope', 'set from the "scope" option; per sign-in, extra scopes come from "allowedScopes"'],
  ['resource', 'set from the "resource" option, which the token requests carry too'],
  ['response_mode', 'the callback reads the query'],
  ['request', 'a request object would override what the BFF sets'],
  ['request_uri', 'a request object would override what the BFF sets'],
  ['returnTo', 'the sign-in route reads it itself'],
]);

/** Per-sign-in parameters `GET /login` accepts unless `allowedLoginParams` says otherwise. */
export const DEFAULT_LOGIN_PARAMS: readonly string[] = Object.freeze(['prompt', 'login_hint', 'acr_values', 'ui_locales', 'max_age']);

/** `prompt` values of OpenID Connect Core (and `create`, of Initiating User Registration). */
const PROMPTS = new Set(['none', 'login', 'consent', 'select_account', 'create']);
/** The longest value a per-sign-in parameter may have (a `scope` may be 1,024). */
const MAX_VALUE = 256;
const MAX_SCOPE_VALUE = 1024;
/** A scope token: RFC 6749's NQCHAR, no space, no quote, no backslash. */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;
/** Space-separated tokens of printable ASCII: `acr_values`, `ui_locales`. */
const TOKENS = /^[\x21-\x7e]+( [\x21-\x7e]+)*$/;
/** A parameter name: what survives a query string and a provider's parser unchanged. */
const NAME = /^[A-Za-z0-9_.:-]{1,64}$/;

/** The authorization options as resolved. */
export interface AuthorizationOptions {
  authorizationParams: Readonly<Record<string, string>>;
  allowedLoginParams: readonly string[];
  allowedScopes: readonly string[];
}

/** What one sign-in asks for beyond the configuration: checked parameters and extra scopes. */
export interface LoginRequest {
  params: Record<string, string>;
  scopes: string[];
}

/** Checks `authorizationParams`, `allowedLoginParams` and `allowedScopes` at start-up. */
export function resolveAuthorizationOptions(config: {
  authorizationParams?: Readonly<Record<string, string>> | undefined;
  allowedLoginParams?: readonly string[] | undefined;
  allowedScopes?: readonly string[] | undefined;
}): AuthorizationOptions {
  const given = config.authorizationParams as unknown;
  const authorizationParams: Record<string, string> = {};
  if (given !== undefined) {
    if (typeof given !== 'object' || given === null || Array.isArray(given)) {
      throw new ConfigurationError(`"authorizationParams" must be an object of parameter names to strings, e.g. { audience: 'https://api.example.com' }, got ${kind(given)}.`);
    }
    for (const [name, value] of Object.entries(given)) {
      const owned = OWNED.get(name);
      if (owned) throw new ConfigurationError(`"authorizationParams.${name}" cannot be set: the BFF owns it (${owned}).`);
      if (!NAME.test(name)) throw new ConfigurationError(`"authorizationParams" has a parameter name that is not usable: ${JSON.stringify(name)}.`);
      if (typeof value !== 'string') throw new ConfigurationError(`"authorizationParams.${name}" must be a string, got ${kind(value)}.`);
      const problem = valueProblem(name, value);
      if (problem) throw new ConfigurationError(`"authorizationParams.${name}": ${problem}.`);
      authorizationParams[name] = value;
    }
  }
  const allowedLoginParams = nameList('allowedLoginParams', config.allowedLoginParams, DEFAULT_LOGIN_PARAMS);
  for (const name of allowedLoginParams) {
    const owned = OWNED.get(name);
    if (owned) throw new ConfigurationError(`"allowedLoginParams" cannot list "${name}": the BFF owns it (${owned}).`);
    if (!NAME.test(name)) throw new ConfigurationError(`"allowedLoginParams" has a parameter name that is not usable: ${JSON.stringify(name)}.`);
  }
  const allowedScopes = nameList('allowedScopes', config.allowedScopes, []);
  for (const scope of allowedScopes) {
    if (!SCOPE_TOKEN.test(scope)) throw new ConfigurationError(`"allowedScopes" must hold single scopes (no spaces or quotes), got ${JSON.stringify(scope)}.`);
  }
  return { authorizationParams: Object.freeze(authorizationParams), allowedLoginParams, allowedScopes };
}

/**
 * Reads the per-sign-in parameters of `GET /login` (everything but `returnTo`): each must be
 * allowed, given once, bounded and well-formed, or the answer is 400 `invalid_request` naming
 * it. Extra `scope`s must each be in `allowedScopes`.
 * @see https://openid.net/specs/openid-connect-core-1_0.html#AuthRequest
 */
export function readLoginRequest(query: URLSearchParams, options: AuthorizationOptions): LoginRequest {
  const request: LoginRequest = { params: {}, scopes: [] };
  for (const name of new Set(query.keys())) {
    if (name === 'returnTo') continue;
    const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}…` : name);
    if (name !== 'scope' ? !options.allowedLoginParams.includes(name) : options.allowedScopes.length === 0) {
      const accepted = ['returnTo', ...options.allowedLoginParams, ...(options.allowedScopes.length ? ['scope'] : [])].join(', ');
      throw invalid(`The sign-in parameter ${shown} is not accepted here; this app accepts ${accepted}.`);
    }
    // What the operator set for every sign-in (an acr_values for MFA, a max_age) no link may change.
    if (Object.hasOwn(options.authorizationParams, name)) throw invalid(`The sign-in parameter ${shown} is set by this app's configuration and cannot be changed per sign-in.`);
    const values = query.getAll(name);
    if (values.length > 1) throw invalid(`The sign-in parameter ${shown} was given more than once.`);
    const value = values[0]!;
    if (name === 'scope') {
      if (value.length > MAX_SCOPE_VALUE) throw invalid(`The sign-in parameter "scope" is longer than ${MAX_SCOPE_VALUE} characters.`);
      for (const scope of value.split(' ').filter(Boolean)) {
        if (!options.allowedScopes.includes(scope)) {
          throw invalid(`The scope ${JSON.stringify(scope.slice(0, 64))} cannot be asked for at sign-in; this app allows ${options.allowedScopes.join(', ')}.`);
        }
        if (!request.scopes.includes(scope)) request.scopes.push(scope);
      }
      if (request.scopes.length === 0) throw invalid('The sign-in parameter "scope" names no scope.');
      continue;
    }
    const problem = valueProblem(name, value);
    if (problem) throw invalid(`The sign-in parameter ${shown} is not valid: ${problem}.`);
    request.params[name] = value;
  }
  return request;
}

/** Adds extra scopes to the configured ones, each once, in order. */
export function mergeScopes(configured: string, extra: readonly string[]): string {
  return [...new Set([...configured.split(' ').filter(Boolean), ...extra])].join(' ');
}

/** What is wrong with a parameter's value, or undefined. */
function valueProblem(name: string, value: string): string | undefined {
  if (value === '') return 'it is empty';
  if (value.length > MAX_VALUE) return `it is longer than ${MAX_VALUE} characters`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return 'it holds control characters';
  switch (name) {
    case 'max_age':
      return /^\d{1,9}$/.test(value) ? undefined : `it must be a whole number of seconds, got ${JSON.stringify(value.slice(0, 32))}`;
    case 'prompt': {
      const prompts = value.split(' ');
      const unknown = prompts.find((p) => !PROMPTS.has(p));
      if (unknown !== undefined) return `${JSON.stringify(unknown.slice(0, 32))} is not one of ${[...PROMPTS].join(', ')}`;
      if (new Set(prompts).size !== prompts.length) return 'it names a value twice';
      if (prompts.includes('none') && prompts.length > 1) return '"none" cannot be combined with other values';
      return undefined;
    }
    case 'acr_values':
    case 'ui_locales':
      return TOKENS.test(value) ? undefined : 'it must be space-separated values of printable ASCII';
    default:
      return undefined;
  }
}

function nameList(option: string, given: readonly string[] | undefined, fallback: readonly string[]): readonly string[] {
  if (given === undefined) return fallback;
  if (!Array.isArray(given) || given.some((name) => typeof name !== 'string' || name === '')) {
    throw new ConfigurationError(`"${option}" must be a list of non-empty strings, got ${JSON.stringify(given)}.`);
  }
  return Object.freeze([...new Set(given)]);
}

function invalid(message: string): BffError {
  return new BffError('invalid_request', 400, message);
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}
