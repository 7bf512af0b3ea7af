import { cookies } from 'next/headers';
import type { SessionUser } from '@latchkey/core';
import type { Bff } from './createBff.js';

/**
 * Route-handler exports for `app/api/auth/[...auth]/route.ts`.
 * @example
 * export const { GET, POST } = nextHandlers(bff);
 */
export function nextHandlers(bff: Bff): { GET: (request: Request) => Promise<Response>; POST: (request: Request) => Promise<Response> } {
  const handle = (request: Request) => bff.handle(request);
  return { GET: handle, POST: handle };
}

/** Who is signed in, for server components and server actions; never a token. */
export async function getSession(bff: Bff): Promise<SessionUser | undefined> {
  const store = await cookies();
  const header = store
    .getAll()
    .map((c) => `${c.name}=${c.value}`)
    .join('; ');
  return bff.getSession(header);
}
