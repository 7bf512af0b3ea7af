import { describe, expect, it } from 'vitest';
import { DEFAULT_LOGIN_PARAMS, mergeScopes, readLoginRequest, resolveAuthorizationOptions } from './authorizationParams.js';
import { createBff } from './createBff.js';
import { BffError, ConfigurationError } from './errors.js';
import { good } from './test/goodConfig.js';


describe('authorization options in the configuration', () => {
  it.each([
    ['a parameter the BFF sets itself: state', { authorizationParams: { state: 'x' } }, /"authorizationParams.state" cannot be set: the BFF owns it/],
    ['a parameter the BFF sets itself: client_id', { authorizationParams: { client_id: 'x' } }, /"authorizationParams.client_id" cannot be set/],
    ['a parameter the BFF sets itself: redirect_uri', { authorizationParams: { redirect_uri: 'https://evil.example/' } }, /"authorizationParams.redirect_uri"/],
    ['a parameter the BFF sets itself: response_type', { authorizationParams: { response_type: 'token' } }, /"authorizationParams.response_type"/],
    ['a parameter the BFF sets itself: nonce', { authorizationParams: { nonce: 'x' } }, /"authorizationParams.nonce"/],
    ['a parameter the BFF sets itself: code_challenge', { authorizationParams: { code_challenge: 'x' } }, /"authorizationParams.code_challenge"/],
    ['a parameter the BFF sets itself: code_challenge_method', { authorizationParams: { code_challenge_method: 'plain' } }, /"authorizationParams.code_challenge_method"/],
    ['scope, which has its own option', { authorizationParams: { scope: 'openid' } }, /"authorizationParams.scope" cannot be set: .*"scope" option/],
    ['resource, which has its own option', { authorizationParams: { resource: 'urn:x' } }, /"authorizationParams.resource" cannot be set: .*"resource" option/],
    ['response_mode', { authorizationParams: { response_mode: 'form_post' } }, /"authorizationParams.response_mode"/],
    ['a request object', { authorizationParams: { request: 'eyJ' } }, /"authorizationParams.request"/],
    ['a value that is not a string', { authorizationParams: { max_age: 0 } }, /"authorizationParams.max_age" must be a string, got number/],
    ['a max_age that is not digits', { authorizationParams: { max_age: '1h' } }, /"authorizationParams.max_age": it must be a whole number of seconds/],
    ['a prompt outside the spec', { authorizationParams: { prompt: 'always' } }, /"authorizationParams.prompt": "always" is not one of none, login, consent, select_account, create/],
    ['an empty value', { authorizationParams: { audience: '' } }, /"authorizationParams.audience": it is empty/],
    ['an array instead of an object', { authorizationParams: ['audience'] }, /"authorizationParams" must be an object .* got an array/],
    ['allowedLoginParams naming state', { allowedLoginParams: ['prompt', 'state'] }, /"allowedLoginParams" cannot list "state": the BFF owns it/],
    ['allowedLoginParams naming scope', { allowedLoginParams: ['scope'] }, /"allowedLoginParams" cannot list "scope": .*"allowedScopes"/],
    ['allowedLoginParams naming returnTo', { allowedLoginParams: ['returnTo'] }, /"allowedLoginParams" cannot list "returnTo"/],
    ['allowedLoginParams that is a string', { allowedLoginParams: 'prompt' }, /"allowedLoginParams" must be a list of non-empty strings/],
    ['allowedScopes with two scopes in one entry', { allowedScopes: ['notes:read notes:write'] }, /"allowedScopes" must hold single scopes .* got "notes:read notes:write"/],
  ])('check() fails on %s, naming the key', (_name, patch, message) => {
    const bff = createBff({ ...good, ...patch } as never);
    expect(() => bff.check()).toThrow(ConfigurationError);
    expect(() => bff.check()).toThrow(message);
  });

  it('keeps what it accepts, with the default per-sign-in parameters', () => {
    const options = resolveAuthorizationOptions({ authorizationParams: { audience: 'https://api.example', prompt: 'login' } });
    expect(options).toEqual({ authorizationParams: { audience: 'https://api.example', prompt: 'login' }, allowedLoginParams: DEFAULT_LOGIN_PARAMS, allowedScopes: [] });
    expect(DEFAULT_LOGIN_PARAMS).toEqual(['prompt', 'login_hint', 'acr_values', 'ui_locales', 'max_age']);
    expect(createBff({ ...good, authorizationParams: { audience: 'https://api.example' } }).config.authorizationParams).toEqual({ audience: 'https://api.example' });
  });
});

describe('readLoginRequest()', () => {
  const options = resolveAuthorizationOptions({ allowedLoginParams: [...DEFAULT_LOGIN_PARAMS, 'organization'], allowedScopes: ['notes:write', 'admin'] });
  const read = (query: string, o = options) => readLoginRequest(new URLSearchParams(query), o);
  const refused = (query: string, message: RegExp, o = options) => {
    let caught: unknown;
    try {
      read(query, o);
    } catch (error) {
      caught = error;
    }
    expect(caught, query).toBeInstanceOf(BffError);
    expect((caught as BffError).code).toBe('invalid_request');
    expect((caught as BffError).status).toBe(400);
    expect((caught as BffError).message).toMatch(message);
  };

  it('takes allowed parameters and extra scopes, and leaves returnTo to the route', () => {
    expect(read('returnTo=/x&prompt=login&login_hint=alice%40example.com&acr_values=urn:a%20urn:b&ui_locales=fr-CA%20en&max_age=0&organization=org_1&scope=admin%20notes:write%20admin')).toEqual({
      params: { prompt: 'login', login_hint: 'alice@example.com', acr_values: 'urn:a urn:b', ui_locales: 'fr-CA en', max_age: '0', organization: 'org_1' },
      scopes: ['admin', 'notes:write'],
    });
    expect(read('returnTo=/x')).toEqual({ params: {}, scopes: [] });
    expect(read('prompt=select_account%20consent').params.prompt).toBe('select_account consent');
  });

  it.each([
    ['an unknown parameter, named', 'returnTo=/x&foo=1', /"foo" is not accepted here; this app accepts returnTo, prompt, login_hint/],
    ['a parameter the BFF owns', 'state=abc', /"state" is not accepted/],
    ['redirect_uri', 'redirect_uri=https://evil.example/', /"redirect_uri" is not accepted/],
    ['a parameter given twice', 'prompt=login&prompt=none', /"prompt" was given more than once/],
    ['a scope given twice', 'scope=admin&scope=admin', /"scope" was given more than once/],
    ['a max_age that is not digits', 'max_age=-1', /"max_age" is not valid: it must be a whole number of seconds/],
    ['a max_age with a unit', 'max_age=5m', /"max_age" is not valid/],
    ['a max_age too large', 'max_age=1234567890', /"max_age" is not valid/],
    ['a prompt outside the spec', 'prompt=always', /"prompt" is not valid: "always" is not one of none, login, consent, select_account, create/],
    ['prompt none with another value', 'prompt=none%20login', /"none" cannot be combined/],
    ['a prompt value twice', 'prompt=login%20login', /names a value twice/],
    ['an empty value', 'login_hint=', /"login_hint" is not valid: it is empty/],
    ['a value that is too long', `login_hint=${'a'.repeat(257)}`, /longer than 256 characters/],
    ['a control character', 'login_hint=a%0Ab', /control characters/],
    ['ui_locales with a non-ASCII tag', 'ui_locales=fr%C3%A9', /space-separated values of printable ASCII/],
    ['a scope not in allowedScopes', 'scope=admin%20delete_everything', /scope "delete_everything" cannot be asked for at sign-in; this app allows notes:write, admin/],
    ['a scope parameter naming no scope', 'scope=%20', /names no scope/],
    ['a very long unknown name, cut short', `${'x'.repeat(300)}=1`, /"x{64}…" is not accepted/],
  ])('refuses %s with 400 invalid_request', (_name, query, message) => refused(query, message));

  it('refuses a per-sign-in parameter the configuration sets for every sign-in (a link cannot lower acr_values or max_age)', () => {
    const strict = resolveAuthorizationOptions({ authorizationParams: { acr_values: 'urn:mfa', max_age: '0' } });
    refused('acr_values=urn:pwd', /"acr_values" is set by this app's configuration/, strict);
    refused('max_age=999999999', /"max_age" is set by this app's configuration/, strict);
    expect(read('prompt=login', strict).params).toEqual({ prompt: 'login' });
  });

  it('refuses scope when no scope may be added (the default), like any unknown parameter', () => {
    refused('scope=openid', /"scope" is not accepted here; this app accepts returnTo, prompt/, resolveAuthorizationOptions({}));
  });

  it('refuses every parameter when allowedLoginParams is empty', () => {
    refused('prompt=login', /"prompt" is not accepted here; this app accepts returnTo\.$/, resolveAuthorizationOptions({ allowedLoginParams: [] }));
  });
});

describe('mergeScopes()', () => {
  it('adds extra scopes once, after the configured ones', () => {
    expect(mergeScopes('openid  profile offline_access', ['notes:write', 'openid'])).toBe('openid profile offline_access notes:write');
  });
});
