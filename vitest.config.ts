import { defineConfig } from 'vitest/config';

// Every package's tests run against its sources (the "source" export condition): no build first.
const shared = { resolve: { conditions: ['source'] }, ssr: { resolve: { conditions: ['source'] } } };

export default defineConfig({
  test: {
    projects: [
      { ...shared, test: { name: 'core', root: 'packages/core', environment: 'node' } },
      { ...shared, test: { name: 'client', root: 'packages/client', environment: 'node' } },
      { ...shared, test: { name: 'react', root: 'packages/react', environment: 'happy-dom' } },
      { ...shared, test: { name: 'resource', root: 'packages/resource', environment: 'node' } },
      { ...shared, test: { name: 'bff', root: 'packages/bff', environment: 'node', testTimeout: 30_000, hookTimeout: 30_000 } },
      { ...shared, test: { name: 'idp', root: 'apps/idp', environment: 'node', testTimeout: 30_000 } },
      { ...shared, test: { name: 'demo', root: 'apps/demo', include: ['lib/**/*.test.ts'], environment: 'node' } },
    ],
  },
});
