import { describe, expect, it } from 'vitest';
import { findAccount } from './accounts.js';

describe('findAccount()', () => {
  it('gives alice the admin role and bob none: the demo\'s /admin is for alice only', async () => {
    const claims = async (sub: string) => (await findAccount({} as never, sub))!.claims('id_token', 'openid profile', {}, []);
    expect(await claims('alice')).toMatchObject({ sub: 'alice', roles: ['admin'] });
    expect(await claims('bob')).toMatchObject({ sub: 'bob', roles: [] });
  });
});
