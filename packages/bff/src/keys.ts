/** Store keys, all under `latchkey:`: ledger, denylist, lock, shared failure, activity, user index. */
export function key(kind: 'fam' | 'deny' | 'lock' | 'fail' | 'act' | 'user', id: string): string {
  return `latchkey:${kind}:${id}`;
}
