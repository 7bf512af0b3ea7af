#!/usr/bin/env node
// @ts-check
/**
 * `node scripts/bench/dpopBrowser.mjs [--iterations N]`: what a DPoP proof costs the browser.
 * Bundles @latchkey/client's DPoP signer (packages/client/src/dpop.ts) with esbuild, loads it
 * in Debian's Chromium (as the browser tests do) on a page served from 127.0.0.1 (WebCrypto
 * needs a secure context), and times `proof()` for an API request (with `ath`) against the
 * Bearer baseline of building the same request's headers, one after the other, N of each.
 * Prints µs per request; asserts nothing about time. `dpopBrowserCost()` is exported for the
 * main bench.
 */
import { build } from 'esbuild';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from '@playwright/test';
import { chromiumLaunchOptions } from '../../e2e/chromium.mjs';
import { ROOT } from '../soak/workspace.mjs';

/**
 * Per-proof figures are batch means (50 proofs a batch): the median batch and the slowest.
 * @typedef {{ iterations: number, proofP50Us: number, proofSlowestUs: number, bearerP50Us: number, firstTokenProofUs: number, keyUs: number, userAgent: string }} DPoPBrowserCost
 */

/** The signer as a browser script: `globalThis.latchkeyDpop = { createDpopKey, DpopProver }`. */
async function signerScript() {
  const result = await build({
    stdin: {
      contents: "export { createDpopKey, DpopProver } from './packages/client/src/dpop.ts';",
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    globalName: 'latchkeyDpop',
    platform: 'browser',
    target: 'es2022',
    conditions: ['source'],
    write: false,
    logLevel: 'error',
  });
  return result.outputFiles[0].text;
}

/**
 * Times DPoP proofs in Chromium.
 * @param {{ iterations?: number }} [options]
 * @returns {Promise<DPoPBrowserCost>}
 */
export async function dpopBrowserCost({ iterations = 2000 } = {}) {
  const script = await signerScript();
  const server = createServer((request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>dpop bench</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(undefined)));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const browser = await chromium.launch(chromiumLaunchOptions);
  try {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.addScriptTag({ content: script });
    return await page.evaluate(async (n) => {
      const { createDpopKey, DpopProver } = /** @type {any} */ (globalThis).latchkeyDpop;
      const k0 = performance.now();
      const pair = await createDpopKey();
      const prover = await DpopProver.create(pair);
      const keyUs = (performance.now() - k0) * 1000;
      // A JWT-sized access token; each new token is hashed once into ath, then reused.
      const token = `eyJ${'a'.repeat(400)}.eyJ${'b'.repeat(500)}.${'c'.repeat(342)}`;
      const url = 'https://api.example.com/notes/items?page=2';
      const t0 = performance.now();
      await prover.proof({ htm: 'GET', htu: url, accessToken: `${token}x` });
      const firstTokenProofUs = (performance.now() - t0) * 1000;
      for (let i = 0; i < 100; i++) await prover.proof({ htm: 'GET', htu: url, accessToken: token });
      // The page's clock is coarse (0.1 ms without cross-origin isolation): time batches, not calls.
      const BATCH = 50;
      /** @type {number[]} */
      const proof = [];
      /** @type {number[]} */
      const bearer = [];
      for (let done = 0; done < n; done += BATCH) {
        let s = performance.now();
        for (let i = 0; i < BATCH; i++) {
          const headers = new Headers({ authorization: `DPoP ${token}`, dpop: await prover.proof({ htm: 'GET', htu: url, accessToken: token }) });
          if (!headers.has('dpop')) throw new Error('no proof');
        }
        proof.push(((performance.now() - s) * 1000) / BATCH);
        s = performance.now();
        for (let i = 0; i < BATCH; i++) {
          // The Bearer baseline: the same request's headers without a proof (an await, as the client's own path has).
          const plain = await Promise.resolve(new Headers({ authorization: `Bearer ${token}` }));
          if (!plain.has('authorization')) throw new Error('no header');
        }
        bearer.push(((performance.now() - s) * 1000) / BATCH);
      }
      const p = (values, q) => values.sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * q))];
      return { iterations: proof.length * BATCH, proofP50Us: p(proof, 0.5), proofSlowestUs: Math.max(...proof), bearerP50Us: p(bearer, 0.5), firstTokenProofUs, keyUs, userAgent: navigator.userAgent };
    }, iterations);
  } finally {
    await browser.close();
    server.close();
  }
}

/** Prints what {@link dpopBrowserCost} measured. */
export function printDPoPBrowserCost(/** @type {DPoPBrowserCost} */ cost) {
  const chrome = /Chrome\/([\d.]+)/.exec(cost.userAgent)?.[1] ?? '?';
  console.log(
    `  DPoP in the browser (Chromium ${chrome}): a DPoP proof per API request ${cost.proofP50Us.toFixed(0)} µs (median of 50-proof batches; slowest batch ${cost.proofSlowestUs.toFixed(0)} µs), ` +
      `against ${cost.bearerP50Us.toFixed(1)} µs for Bearer headers alone; the first proof for a new token ${cost.firstTokenProofUs.toFixed(0)} µs (hashes it into ath); ` +
      `making the key ${cost.keyUs.toFixed(0)} µs once per browser (${cost.iterations} proofs)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' } } });
  const iterations = Number(values.iterations);
  if (!Number.isInteger(iterations) || iterations < 10) throw new Error(`--iterations must be a whole number of at least 10, got ${values.iterations}`);
  printDPoPBrowserCost(await dpopBrowserCost({ iterations }));
}
