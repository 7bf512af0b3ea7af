import { createBff, sharedMemoryStore, type Bff, type BffConfig } from '@latchkey/bff';
import { nextAuth, type NextAuth } from '@latchkey/bff/next';
import { redisAuditSink, redisStore } from '@latchkey/bff/redis';
import { createVerifier, type Verifier } from '@latchkey/resource';
import { createClient } from 'redis';
import { demoConfig, dpopFromEnv, modeFromEnv, rateLimitsFromEnv } from './config';

let bff: Bff | undefined;

/**
 * The demo's BFF, created at first use and then kept for the life of the server process.
 * Not at import: `next build` imports route modules on machines that hold no secrets.
 */
export function getBff(): Bff {
  bff ??= makeBff();
  return bff;
}

function makeBff(): Bff {
  const redis = demoConfig.redisUrl
    ? createClient({ url: demoConfig.redisUrl })
        .on('error', (error: Error) => console.error('[demo] redis:', error.message))
        .connect()
    : undefined;
  return createBff({
    issuer: demoConfig.issuer,
    clientId: demoConfig.clientId,
    clientSecret: demoConfig.clientSecret,
    appOrigin: demoConfig.appOrigin,
    cookieSecret: demoConfig.cookieSecret,
    scope: demoConfig.scope,
    // roles: /admin is for users whose ID token says admin (alice in the dev provider).
    userClaims: ['sub', 'name', 'email', 'preferred_username', 'roles'],
    allowInsecureHttp: demoConfig.allowInsecureHttp,
    trustProxy: demoConfig.trustProxy,
    ...(rateLimitsFromEnv() !== undefined && { rateLimits: rateLimitsFromEnv() as BffConfig['rateLimits'] }),
    ...(demoConfig.graceSeconds !== undefined && { graceSeconds: demoConfig.graceSeconds }),
    // LATCHKEY_MODE=proxy: the page never holds a token. It calls /api/auth/proxy/notes/<path>,
    // this BFF attaches the token (only one whose audience is the notes API's) and calls
    // /api/notes/<path>, and POST /api/auth/token answers 404. `both` keeps /token as well.
    ...(modeFromEnv() !== 'token' && {
      apis: { notes: { url: demoConfig.notesApiUrl, methods: ['GET'], scopes: ['notes:read'], audience: demoConfig.audience } },
      mode: modeFromEnv() as 'proxy' | 'both',
    }),
    // LATCHKEY_DPOP=1: access tokens bound to the page's key (the dev provider supports DPoP).
    dpop: dpopFromEnv(),
    // With REDIS_URL, every instance of the demo shares one store; without it, each keeps its
    // own memory, shared by the copies of this module that Next's bundle layers make.
    store: redis ? redisStore({ client: redis }) : sharedMemoryStore(),
    // With Redis, one audit trail (a capped stream) for every instance's /admin; without it, the
    // default: JSON lines on the console and the last records in this process.
    ...(redis && { audit: redisAuditSink({ client: redis, maxLen: 10_000 }) }),
  });
}

/** Whether a session's user may use /admin: the ID token's `roles` claim holds `admin`. */
export function isAdmin(user: object | null | undefined): boolean {
  const roles = (user as { roles?: unknown } | null | undefined)?.roles;
  return Array.isArray(roles) && roles.includes('admin');
}

let auth: NextAuth | undefined;

/** Server-side sessions and tokens (server components, server actions) on the demo's BFF. */
export function getAuth(): NextAuth {
  auth ??= nextAuth(getBff());
  return auth;
}

let verifier: Verifier | undefined;

/**
 * Verifies access tokens for the demo's own API routes, made at first use (LATCHKEY_DPOP is read
 * then). With DPoP, a token bound to a key is taken only with a proof of that key, signed for the
 * URL the page called (the app's origin, which a proxy in front of the demo may not pass on as the
 * Host); the server's own calls (the /server page) still send unbound Bearer tokens.
 */
export function getVerifier(): Verifier {
  verifier ??= createVerifier({
    issuer: demoConfig.issuer,
    audience: demoConfig.audience,
    ...(demoConfig.jwksUri && { jwksUri: demoConfig.jwksUri }),
    requiredScopes: ['notes:read'],
    ...(dpopFromEnv() && {
      dpop: {
        htu: (request: Request) => {
          const { pathname } = new URL(request.url);
          return new URL(pathname, demoConfig.appOrigin).href;
        },
      },
    }),
  });
  return verifier;
}
