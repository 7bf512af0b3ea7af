import type { FindAccount } from 'oidc-provider';

interface DevUser {
  password: string;
  name: string;
  email: string;
  /** The `roles` claim (in the `profile` scope): the demo's `/admin` asks for `admin`. */
  roles: string[];
}

/** The dev users; usernames equal passwords. alice is an admin, bob is not. */
export const DEV_USERS: Readonly<Record<string, DevUser>> = {
  alice: { password: 'alice', name: 'Alice Liddell', email: 'alice@example.test', roles: ['admin'] },
  bob: { password: 'bob', name: 'Bob Builder', email: 'bob@example.test', roles: [] },
};

/** Checks a username and password against the dev users; answers the account id or undefined. */
export function authenticate(username: unknown, password: unknown): string | undefined {
  if (typeof username !== 'string' || typeof password !== 'string') return undefined;
  const user = Object.hasOwn(DEV_USERS, username) ? DEV_USERS[username] : undefined;
  return user && user.password === password ? username : undefined;
}

/** oidc-provider's account lookup for the dev users. */
export const findAccount: FindAccount = async (_ctx, sub) => {
  const user = Object.hasOwn(DEV_USERS, sub) ? DEV_USERS[sub] : undefined;
  if (!user) return undefined;
  return {
    accountId: sub,
    claims: async () => ({
      sub,
      name: user.name,
      preferred_username: sub,
      email: user.email,
      email_verified: true,
      roles: [...user.roles],
    }),
  };
};
