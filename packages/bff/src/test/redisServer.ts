import { spawn } from 'node:child_process';
import { freePort } from './freePort.js';
import { createClient } from 'redis';

export interface RedisServer {
  url: string;
  /** A new connected client; closed by `stop()`. */
  client(): Promise<ReturnType<typeof createClient>>;
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
}

/** Starts a real `redis-server` on a free port, without persistence, and waits until it answers. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`redis-server could not start (is it installed? npm test installs it): ${error.message}`)));
  });
  const url = `redis://127.0.0.1:${port}`;
  const clients: ReturnType<typeof createClient>[] = [];
  const client = async () => {
    const c = createClient({ url });
    c.on('error', () => {});
    await c.connect();
    clients.push(c);
    return c;
  };
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const probe = await Promise.race([client(), failed]);
      await probe.ping();
      break;
    } catch (error) {
      if (Date.now() > deadline || child.exitCode !== null) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    client,
    pause: () => void child.kill('SIGSTOP'),
    resume: () => void child.kill('SIGCONT'),
    async stop() {
      child.kill('SIGCONT');
      await Promise.all(clients.map((c) => c.quit().catch(() => {})));
      child.kill('SIGTERM');
    },
  };
}
