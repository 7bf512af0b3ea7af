#!/usr/bin/env node
// @ts-check
/**
 * `node scripts/bench/dpop.mjs [--iterations N] [--no-build]`: what DPoP costs at the resource
 * server. One verifier built from @latchkey/resource's dist/ (as users install it) with
 * `dpop: {}` and a local JWKS (no network), fed pre-built requests: a bearer token, then a
 * DPoP-bound token with a fresh proof, one after the other, N of each. Prints µs per verify()
 * and the ratio; asserts nothing about time. `dpopVerifyCost()` is exported for the main bench.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildPackage, packageBuildIsStale, ROOT } from '../soak/workspace.mjs';

const RESOURCE = join(ROOT, 'packages/resource');
const ISS = 'https://idp.example';
const AUD = 'urn:bench';
const URL_ = 'https://api.example/notes';
/** Proofs are signed in batches just before they are used, so none nears the 60 s iat window. */
const BATCH = 500;

/** Whether packages/resource/dist is missing or older than the sources of resource or core. */
export const resourceBuildIsStale = () => packageBuildIsStale('resource');

/** Builds @latchkey/resource and what it depends on with turbo; throws with its last lines when that fails. */
export const buildResource = () => buildPackage('resource');

/** The median of `values` (sorted in place). */
const median = (/** @type {number[]} */ values) => {
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? /** @type {number} */ (values[mid]) : (/** @type {number} */ (values[mid - 1]) + /** @type {number} */ (values[mid])) / 2;
};

/**
 * @typedef {object} DPoPVerifyCost
 * @property {number} iterations verifies of each kind that were timed
 * @property {number} bearerUs mean µs per verify() of a bearer token
 * @property {number} dpopUs mean µs per verify() of a DPoP-bound token and its proof
 * @property {number} bearerMedianUs
 * @property {number} dpopMedianUs
 * @property {number} ratio dpopUs / bearerUs
 */

/**
 * Times verify() of a bearer token against a DPoP token and proof, alternating one of each so
 * load on the machine falls on both alike. Needs packages/resource/dist built.
 * @param {{ iterations?: number, warmUp?: number }} [options]
 * @returns {Promise<DPoPVerifyCost>}
 */
export async function dpopVerifyCost({ iterations = 2000, warmUp = 200 } = {}) {
  const { createVerifier } = await import(pathToFileURL(join(RESOURCE, 'dist/index.js')).href);
  /** @type {typeof import('../../packages/resource/node_modules/jose/dist/types/index.js')} */
  const jose = await import(pathToFileURL(createRequire(join(RESOURCE, 'package.json')).resolve('jose')).href);
  const seconds = () => Math.floor(Date.now() / 1000);

  const provider = await jose.generateKeyPair('RS256');
  const keys = jose.createLocalJWKSet({ keys: [{ ...(await jose.exportJWK(provider.publicKey)), kid: 'k1', alg: 'RS256' }] });
  const client = await jose.generateKeyPair('ES256', { extractable: true });
  const jwk = await jose.exportJWK(client.publicKey);
  const jkt = await jose.calculateJwkThumbprint(jwk, 'sha256');
  const accessToken = (/** @type {Record<string, unknown>} */ extra) =>
    new jose.SignJWT({ iss: ISS, aud: AUD, sub: 'alice', iat: seconds(), exp: seconds() + 3600, scope: 'notes:read', ...extra })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1', typ: 'at+jwt' })
      .sign(provider.privateKey);
  const bearer = await accessToken({});
  const bound = await accessToken({ cnf: { jkt } });
  const ath = jose.base64url.encode(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(bound))));
  const proof = () =>
    new jose.SignJWT({ htm: 'GET', htu: URL_, iat: seconds(), jti: randomUUID(), ath }).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk }).sign(client.privateKey);

  // One verifier for both, configured as a DPoP-accepting API would be: the bearer path pays for the cnf check too.
  const verifier = createVerifier({ issuer: ISS, audience: AUD, requiredScopes: ['notes:read'], keys, dpop: {} });
  const bearerRequest = () => new Request(URL_, { headers: { authorization: `Bearer ${bearer}` } });
  const dpopRequests = async (/** @type {number} */ n) =>
    Promise.all(Array.from({ length: n }, async () => new Request(URL_, { headers: { authorization: `DPoP ${bound}`, dpop: await proof() } })));

  /** @type {{ bearer: number[], dpop: number[] }} */
  const samples = { bearer: [], dpop: [] };
  const total = warmUp + iterations;
  for (let done = 0; done < total; ) {
    const n = Math.min(BATCH, total - done);
    const dpops = await dpopRequests(n);
    const bearers = Array.from({ length: n }, bearerRequest);
    for (let i = 0; i < n; i++, done++) {
      // Alternate which kind goes first, so neither always follows the other's garbage.
      const order = done % 2 ? /** @type {const} */ (['dpop', 'bearer']) : /** @type {const} */ (['bearer', 'dpop']);
      for (const kind of order) {
        const request = kind === 'bearer' ? bearers[i] : dpops[i];
        const started = performance.now();
        const result = await verifier.verify(request);
        const elapsed = performance.now() - started;
        if (!result.ok) throw new Error(`the ${kind} request was refused: ${result.error.message}`);
        if (done >= warmUp) samples[kind].push(elapsed * 1000);
      }
    }
  }
  const mean = (/** @type {number[]} */ values) => values.reduce((s, v) => s + v, 0) / values.length;
  const bearerUs = mean(samples.bearer);
  const dpopUs = mean(samples.dpop);
  return { iterations, bearerUs, dpopUs, bearerMedianUs: median(samples.bearer), dpopMedianUs: median(samples.dpop), ratio: dpopUs / bearerUs };
}

/** Prints {@link dpopVerifyCost}'s figures. */
export function printDPoPVerifyCost(/** @type {DPoPVerifyCost} */ cost) {
  const us = (/** @type {number} */ n) => `${n.toFixed(1)} µs`;
  console.log(`DPoP at the resource server: verify() ×${cost.iterations} of each, alternating (mean, median)`);
  console.log(`  bearer token            ${us(cost.bearerUs).padStart(10)}  ${us(cost.bearerMedianUs).padStart(10)}`);
  console.log(`  DPoP token + proof      ${us(cost.dpopUs).padStart(10)}  ${us(cost.dpopMedianUs).padStart(10)}`);
  console.log(`  ratio DPoP / bearer     ${`${cost.ratio.toFixed(2)}×`.padStart(10)}   (+${us(cost.dpopUs - cost.bearerUs)} per request)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' }, 'no-build': { type: 'boolean', default: false } } });
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations <= 0) throw new Error(`--iterations must be a whole number above 0, got ${values.iterations}`);
  if (!values['no-build'] && resourceBuildIsStale()) {
    console.log('building @latchkey/resource…');
    buildResource();
  }
  printDPoPVerifyCost(await dpopVerifyCost({ iterations }));
}
