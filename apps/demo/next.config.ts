import type { NextConfig } from 'next';

const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The Redis client stays a plain Node dependency of the server, not bundled.
  serverExternalPackages: ['redis', '@redis/client'],
};

export default config;
