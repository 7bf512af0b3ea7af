#!/usr/bin/env bash
# Installs what the tests need (pnpm, packages, Chromium, Redis, promtool) and runs every suite:
# type checks, the packed packages (publint, attw), unit and integration tests (vitest), the
# Prometheus alert rules (promtool) and
# browser tests (Playwright), then brand-new create-next-app apps made from the README alone.
# Ends with one line "N passed, M failed" over all suites.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/bootstrap.sh --system || exit 1

rm -rf test-results && mkdir -p test-results
status=0

say "type checks"
pnpm -s turbo run typecheck --output-logs=errors-only || status=1

say "packages as published (pnpm pack, publint, attw)"
node scripts/checkPackages.mjs || status=1

say "bundle size of @latchkey/react + client + core (min+gzip, esbuild)"
node scripts/size.mjs || status=1

say "unit and integration tests"
pnpm -s vitest run --reporter=default --reporter=json --outputFile.json=test-results/unit.json || status=1

say "alert rules (promtool)"
pnpm -s vitest run --config deploy/prometheus/vitest.config.ts --reporter=default --reporter=json --outputFile.json=test-results/alerts.json || status=1

say "browser tests (Chromium)"
pnpm -s playwright test -c e2e/playwright.config.ts || status=1

say "fresh apps from the README (create-next-app 16 and 15, packed packages, Chromium)"
pnpm -s playwright test -c scripts/freshApp/playwright.config.ts || status=1

node scripts/summary.mjs test-results/unit.json test-results/alerts.json test-results/e2e.json test-results/fresh-app.json || status=1
exit $status
