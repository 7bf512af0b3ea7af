import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { providerFetch } from './providerFetch.js';

/** A real HTTP server that echoes what it received, and can answer slowly or not at all. */
let server: Server;
let base: string;
const sockets = new Set<import('node:net').Socket>();
beforeAll(async () => {
  server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const url = new URL(request.url!, 'http://x');
    if (url.pathname === '/hang') return; // never answers
    if (url.pathname === '/empty') return response.writeHead(204).end();
    response.setHeader('set-cookie', ['a=1', 'b=2']);
    response.writeHead(url.pathname === '/error' ? 503 : 200, { 'content-type': 'application/json', 'retry-after': '7' });
    response.end(JSON.stringify({ method: request.method, headers: request.headers, body: Buffer.concat(chunks).toString() }));
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => server.close(resolve));
});

describe('providerFetch', () => {
  it('sends a form POST as oauth4webapi does and answers a Response with status, headers and body', async () => {
    const response = await providerFetch(`${base}/token`, {
      method: 'POST',
      headers: { authorization: 'Basic abc', accept: 'application/json' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'r t&=' }),
      redirect: 'manual',
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('retry-after')).toBe('7');
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    const echo = await response.json();
    expect(echo).toMatchObject({
      method: 'POST',
      body: 'grant_type=refresh_token&refresh_token=r+t%26%3D',
      headers: { authorization: 'Basic abc', 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', 'content-length': '48' },
    });
  });

  it('answers errors and empty answers as they are, without throwing', async () => {
    const error = await providerFetch(`${base}/error`, { method: 'GET' });
    expect(error.status).toBe(503);
    expect(error.ok).toBe(false);
    const empty = await providerFetch(`${base}/empty`);
    expect(empty.status).toBe(204);
    expect(await empty.text()).toBe('');
  });

  it('rejects with the signal’s reason when aborted, and with a TypeError when nothing listens', async () => {
    const controller = new AbortController();
    const pending = providerFetch(`${base}/hang`, { signal: controller.signal });
    setTimeout(() => controller.abort(new DOMException('The provider did not answer in time', 'TimeoutError')), 50);
    await expect(pending).rejects.toMatchObject({ name: 'TimeoutError' });
    await expect(providerFetch('http://127.0.0.1:1/')).rejects.toBeInstanceOf(TypeError);
  });

  it('leaves what it does not handle to the runtime’s fetch, never to a framework wrapper', async () => {
    const saved = globalThis.fetch;
    const original = vi.fn(async () => new Response('original'));
    const wrapper = Object.assign(vi.fn(async () => new Response('wrapper')), { _nextOriginalFetch: original });
    globalThis.fetch = wrapper as unknown as typeof fetch;
    try {
      await providerFetch(new URL(`${base}/token`));
      expect(original).toHaveBeenCalledOnce();
      expect(wrapper).not.toHaveBeenCalled();
    } finally {
      globalThis.fetch = saved;
    }
  });
});
