import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The browser talks to Vite only: pages from Vite, `/api/*` proxied to the separate BFF. So
 * the app's origin — the BFF's `appOrigin`, where the session cookie lives — is Vite's.
 */
const port = Number(process.env.PORT || 5173);
const api = {
  '/api': {
    target: process.env.BFF_URL || 'http://127.0.0.1:8787',
    // Appends the browser's address to X-Forwarded-For; the BFF trusts that one hop (trustProxy: 1).
    xfwd: true,
  },
};

// cors: false — Vite would otherwise add Access-Control-Allow-Origin for other localhost
// origins, the BFF's answers included; the SPA is same-origin and needs none.
const shared = { host: 'localhost', port, strictPort: true, cors: false, proxy: api } as const;

export default defineConfig({
  plugins: [react()],
  server: shared,
  preview: shared,
});
