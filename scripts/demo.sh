#!/usr/bin/env bash
# Installs everything, builds, and runs the dev OpenID Provider and the demo app together.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh

APP_PORT="${PORT:-3000}"
IDP_PORT="${IDP_PORT:-4000}"
export NEXT_TELEMETRY_DISABLED=1

# `next start` refuses to run without a cookie secret (the embedded one is public). With none
# given, make a random one for this run: sessions then end when the demo stops.
secret_line="Cookie secret:   LATCHKEY_COOKIE_SECRET from your environment"
if [ -z "${LATCHKEY_COOKIE_SECRET:-}" ]; then
  LATCHKEY_COOKIE_SECRET="$(node -e 'process.stdout.write(require("node:crypto").randomBytes(32).toString("base64"))')"
  secret_line="Cookie secret:   random for this run (set LATCHKEY_COOKIE_SECRET to keep sessions across restarts)"
  say "LATCHKEY_COOKIE_SECRET is not set: using a random one for this run"
fi
export LATCHKEY_COOKIE_SECRET

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT INT TERM

(cd apps/idp && IDP_PORT="$IDP_PORT" IDP_APP_ORIGINS="http://localhost:${APP_PORT}" pnpm -s start) &
pids+=($!)
(cd apps/demo && PORT="$APP_PORT" OIDC_ISSUER="${OIDC_ISSUER:-http://127.0.0.1:${IDP_PORT}}" pnpm -s start) &
pids+=($!)

for _ in $(seq 1 100); do
  curl -fsS "http://localhost:${APP_PORT}/api/auth/session" >/dev/null 2>&1 && break
  sleep 0.3
done
cat <<MSG

  Latchkey demo:   http://localhost:${APP_PORT}
  Dev provider:    http://127.0.0.1:${IDP_PORT}
  Sign in as:      alice / alice   or   bob / bob
  ${secret_line}

  Press Ctrl+C to stop.

MSG
wait
