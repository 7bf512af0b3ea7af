import type { NextConfig } from 'next';

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The Redis client stays a plain Node dependency of the server, not bundled.
  serverExternalPackages: ['redis', '@redis/client'],
  // forbidden(): /admin answers 403 to a signed-in user who is not an admin.
  experimental: { authInterrupts: true },
};

export default config;
