#!/usr/bin/env bash
# Shared set-up for scripts/test.sh and scripts/demo.sh: pnpm, the workspace's packages, and
# (with --system) Debian's Chromium, Redis and promtool. Safe to run again: it skips what is there.
set -euo pipefail
cd "$(dirname "$0")/.."

PNPM_VERSION="$(node -p "require('./package.json').packageManager.split('@')[1]")"

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

node -e 'const [a,b]=process.versions.node.split(".").map(Number); if (a<20||(a===20&&b<19)) { console.error("Latchkey needs Node >= 20.19, this is "+process.version); process.exit(1) }'

# A pnpm installed into the checkout by an earlier run (no rights for a global install).
export PATH="$PWD/.tools/node_modules/.bin:$PATH"
if ! command -v pnpm >/dev/null 2>&1; then
  say "installing pnpm ${PNPM_VERSION}"
  if ! npm install -g "pnpm@${PNPM_VERSION}" >/dev/null 2>&1; then
    # No rights to install globally: keep it inside the checkout instead.
    npm install --no-save --prefix .tools "pnpm@${PNPM_VERSION}" >/dev/null
  fi
fi

if [ "${1:-}" = "--system" ]; then
  missing=()
  command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  # promtool checks the demo's Prometheus scrape and tests deploy/prometheus's alert rules; it
  # comes with the prometheus package, whose recommends (node-exporter and more) are not needed.
  lean=()
  command -v promtool >/dev/null 2>&1 || lean+=(prometheus)
  if [ ${#missing[@]} -gt 0 ] || [ ${#lean[@]} -gt 0 ]; then
    say "installing ${missing[*]}${missing[*]:+${lean[*]:+ }}${lean[*]} from the system's packages"
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
    [ ${#lean[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${lean[@]}" >/dev/null
  fi
fi

say "installing the workspace's packages"
CI=true pnpm install --frozen-lockfile --reporter=silent

say "building packages and the demo"
NEXT_TELEMETRY_DISABLED=1 pnpm -s turbo run build --output-logs=errors-only
