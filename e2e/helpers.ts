import { expect, type Page } from '@playwright/test';
import { Buffer } from 'node:buffer';

/** Signs in through the dev provider's real login form, starting from the demo's sign-in button. */
export async function signIn(page: Page, appUrl: string, user = 'alice') {
  await page.goto(appUrl);
  await expect(page.getByTestId('auth-status')).toHaveText('unauthenticated');
  await page.getByTestId('sign-in').click();
  await page.locator('input[name="username"]').fill(user);
  await page.locator('input[name="password"]').fill(user);
  await page.locator('button[type="submit"]').click();
  await page.waitForURL(`${appUrl}/**`);
  await expect(page.getByTestId('auth-status')).toHaveText('authenticated');
}

/** Calls POST /api/auth/token the way the SPA does, from the page's context. */
export async function callToken(page: Page, appUrl: string, cookie?: string) {
  return page.request.post(`${appUrl}/api/auth/token?idle=0`, {
    headers: {
      'content-type': 'application/json',
      'x-latchkey': '1',
      origin: appUrl,
      ...(cookie ? { cookie: `__Host-latchkey=${cookie}` } : {}),
    },
  });
}

/** Paths the notes list is fetched at: the API itself (token mode, the Vite example) and the BFF's proxy of it. */
const NOTES_PATHS = new Set(['/api/notes', '/api/notes/items', '/api/auth/proxy/notes/items']);

/** Records the status of every notes API and /api/auth/token answer the pages get from now on. */
export function recordResponses(pages: Page[]) {
  const seen = { notes: [] as number[], token: [] as number[] };
  for (const page of pages) {
    page.on('response', (r) => {
      if (NOTES_PATHS.has(new URL(r.url()).pathname)) seen.notes.push(r.status());
      if (new URL(r.url()).pathname === '/api/auth/token') seen.token.push(r.status());
    });
  }
  return seen;
}

/**
 * Every JWT in `text`: three base64url segments (the last may be empty, as in `alg: none`)
 * whose first decodes to a JSON object with an `alg`. Runs of base64url and dots are split on
 * every dot, so a JWT glued to other text by a dot (`x.eyJ...`) is still found.
 */
export function findJwts(text: string): string[] {
  const found: string[] = [];
  for (const run of text.match(/[A-Za-z0-9_.-]{10,}/g) ?? []) {
    const parts = run.split('.');
    for (let i = 0; i + 2 < parts.length; i++) {
      if (parts[i]!.length < 4 || parts[i + 1]!.length < 2) continue;
      try {
        const header: unknown = JSON.parse(Buffer.from(parts[i]!, 'base64url').toString('utf8'));
        if (typeof header === 'object' && header !== null && typeof (header as { alg?: unknown }).alg === 'string') found.push(parts.slice(i, i + 3).join('.'));
      } catch {
        // not JSON: not a JWT header
      }
    }
  }
  return found;
}

/**
 * Records what the page's JavaScript could read of every answer from `origin` (status, headers
 * but `set-cookie`, which scripts never see, and the body), to be scanned later. Other origins
 * (the provider's sign-in pages) are left out.
 */
export function recordBodies(page: Page, origin: string) {
  const pending: Promise<string>[] = [];
  page.on('response', (response) => {
    if (new URL(response.url()).origin !== origin) return;
    const headers = Object.entries(response.headers()).filter(([name]) => name !== 'set-cookie');
    const head = `${response.status()} ${response.url()}\n${headers.map(([n, v]) => `${n}: ${v}`).join('\n')}\n\n`;
    // Redirects and some aborted requests have no body to give.
    pending.push(response.body().then((body) => head + body.toString('utf8'), () => head));
  });
  return {
    /** Everything recorded so far, once each body has arrived. */
    all: async () => Promise.all(pending),
    count: () => pending.length,
  };
}

/**
 * What the page's JavaScript can reach besides answers: `document.cookie`, both storages and
 * every own enumerable property of `window`, each JSON-stringified (cycles and functions skipped).
 */
export async function pageState(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const json = (value: unknown) => {
      // Cycles are cut per entry: an object met under one global is still read under the next.
      const seen = new WeakSet<object>();
      try {
        return JSON.stringify(value, (_key, v: unknown) => {
          if (typeof v === 'object' && v !== null) {
            if (seen.has(v)) return undefined;
            seen.add(v);
          }
          return typeof v === 'function' ? undefined : v;
        });
      } catch {
        try {
          return String(value);
        } catch {
          return '';
        }
      }
    };
    const out = [`cookie: ${document.cookie}`];
    for (const [name, storage] of [['localStorage', localStorage], ['sessionStorage', sessionStorage]] as const) {
      for (let i = 0; i < storage.length; i++) out.push(`${name}.${storage.key(i)}: ${storage.getItem(storage.key(i)!)}`);
    }
    for (const key of Object.keys(window)) {
      let value: unknown;
      try {
        value = (window as unknown as Record<string, unknown>)[key];
      } catch {
        continue;
      }
      // `window`, `self`, `frames`...: the window itself, whose globals are read one by one here.
      if (value === window) continue;
      out.push(`window.${key}: ${json(value) ?? ''}`);
    }
    return out;
  });
}

/** Every string in the page's JavaScript heap (a V8 heap snapshot over the DevTools protocol), closures' variables included. */
export async function heapStrings(page: Page): Promise<string[]> {
  const cdp = await page.context().newCDPSession(page);
  const chunks: string[] = [];
  cdp.on('HeapProfiler.addHeapSnapshotChunk', ({ chunk }) => void chunks.push(chunk));
  await cdp.send('HeapProfiler.enable');
  await cdp.send('HeapProfiler.collectGarbage');
  await cdp.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false });
  await cdp.detach();
  return (JSON.parse(chunks.join('')) as { strings: string[] }).strings;
}
