import { createBff } from '@latchkey/bff';
import { createVerifier } from '@latchkey/resource';
import { demoConfig } from './config';

/** The demo's BFF, created once per server process. */
export const bff = createBff({
  issuer: demoConfig.issuer,
  clientId: demoConfig.clientId,
  clientSecret: demoConfig.clientSecret,
  appOrigin: demoConfig.appOrigin,
  cookieSecret: demoConfig.cookieSecret,
  scope: demoConfig.scope,
  allowInsecureHttp: demoConfig.allowInsecureHttp,
  ...(demoConfig.graceSeconds !== undefined && { graceSeconds: demoConfig.graceSeconds }),
});

/** Verifies access tokens for the demo's own API routes. */
export const verifier = createVerifier({
  issuer: demoConfig.issuer,
  audience: demoConfig.audience,
  jwksUri: demoConfig.jwksUri,
  requiredScopes: ['notes:read'],
});
