import { protect } from '@latchkey/bff/proxy';

/** Signed-out visitors of /server go to sign-in first and come back to it. */
export const proxy = protect(['/server']);
