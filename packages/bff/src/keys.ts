/** Store keys, all under `latchkey:`: ledger, denylist, lock, shared failure, activity, user index, DPoP proof ids forwarded. */
export function key(kind: 'fam' | 'deny' | 'lock' | 'fail' | 'act' | 'user' | 'dpop', id: string): string {
  return `latchkey:${kind}:${id}`;
}
