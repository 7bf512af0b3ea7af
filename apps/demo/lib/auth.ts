import { createBff } from '@latchkey/bff';
import { redisStore } from '@latchkey/bff/redis';
import { createVerifier } from '@latchkey/resource';
import { createClient } from 'redis';
import { demoConfig } from './config';

/** With REDIS_URL, every instance of the demo shares one store; without it, each keeps its own memory. */
const store = demoConfig.redisUrl
  ? redisStore({
      client: createClient({ url: demoConfig.redisUrl })
        .on('error', (error: Error) => console.error('[demo] redis:', error.message))
        .connect(),
    })
  : undefined;

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
  ...(store && { store }),
});

/** Verifies access tokens for the demo's own API routes. */
export const verifier = createVerifier({
  issuer: demoConfig.issuer,
  audience: demoConfig.audience,
  jwksUri: demoConfig.jwksUri,
  requiredScopes: ['notes:read'],
});
