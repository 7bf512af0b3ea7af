import { startIdp } from './server.js';

const seconds = (name: string, fallback: number) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    console.error(`[idp] ${name} must be a whole number of seconds above 0, got ${JSON.stringify(raw)}`);
    process.exit(1);
  }
  return value;
};

const flag = (name: string) => {
  const raw = process.env[name] ?? '';
  if (raw === '' || raw === '0') return false;
  if (raw === '1') return true;
  console.error(`[idp] ${name} must be 1 or 0, got ${JSON.stringify(raw)}`);
  process.exit(1);
};

const dpopNonce = flag('IDP_DPOP_NONCE');
const idp = await startIdp({
  port: seconds('IDP_PORT', 4000),
  accessTokenTtl: seconds('ACCESS_TOKEN_TTL', 300),
  refreshTokenTtl: seconds('REFRESH_TOKEN_TTL', 14 * 24 * 3600),
  ...(process.env.IDP_APP_ORIGINS ? { appOrigins: process.env.IDP_APP_ORIGINS.split(',') } : {}),
  dpopNonce,
});
console.log(`[idp] dev OpenID Provider at ${idp.issuer} (users alice/alice, bob/bob)${dpopNonce ? '; DPoP proofs need a nonce' : ''}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => void idp.close().then(() => process.exit(0)));
}
