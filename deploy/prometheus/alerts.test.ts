import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The alert rules (alerts.yml) through promtool: valid, passing their unit tests
// (alerts.test.yml), and each alert covered both ways: its tests go red when it can never fire,
// and when it always fires.

const here = dirname(fileURLToPath(import.meta.url));
const RULES = readFileSync(join(here, 'alerts.yml'), 'utf8');
const ALERTS = [...RULES.matchAll(/^\s*- alert: (\S+)\s*$/gm)].map((m) => m[1]!);
const scratch = mkdtempSync(join(tmpdir(), 'latchkey-alerts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const INSTALL = "promtool is not installed: it comes with Debian's prometheus package (apt-get install --no-install-recommends prometheus); npm test installs it.";

/** Runs promtool in `cwd`; a missing promtool fails the test that asked, saying how to install it. */
function promtool(args: string[], cwd = here) {
  const result = spawnSync('promtool', args, { cwd, encoding: 'utf8' });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') throw new Error(INSTALL);
  if (result.error) throw result.error;
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** alerts.yml with `alert`'s expression replaced by `expr`. */
function withExpr(alert: string, expr: string): string {
  const lines = RULES.split('\n');
  const at = lines.findIndex((line) => line.trim() === `- alert: ${alert}`);
  const exprAt = lines.findIndex((line, i) => i > at && /^\s+expr:/.test(line));
  const indent = lines[exprAt]!.search(/\S/);
  let end = exprAt + 1;
  while (end < lines.length && lines[end]!.trim() !== '' && lines[end]!.search(/\S/) > indent) end += 1;
  lines.splice(exprAt, end - exprAt, `${' '.repeat(indent)}expr: ${expr}`);
  return lines.join('\n');
}

/** `promtool test rules` on the tests with `rules` in place of alerts.yml; answers the failed expectations. */
function testWith(rules: string, name: string) {
  const dir = join(scratch, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'alerts.yml'), rules);
  copyFileSync(join(here, 'alerts.test.yml'), join(dir, 'alerts.test.yml'));
  const { status, output } = promtool(['test', 'rules', 'alerts.test.yml'], dir);
  // promtool prints each failed expectation as "alertname: X, time: 4m, exp:[...], got:[...]".
  const failed = [...output.matchAll(/alertname: (\S+), time: (\S+), \s*exp:\[(\],)?/g)].map((m) => ({
    alertname: m[1],
    time: m[2],
    expected: m[3] ? 'nothing' : 'alerts',
  }));
  return { status, output, failed };
}

describe('deploy/prometheus/alerts.yml', () => {
  it('holds the alerts the operations guide names', () => {
    expect(ALERTS).toEqual([
      'LatchkeyRefreshTokenReuse',
      'LatchkeySignInFailureBurst',
      'LatchkeyRateLimitSpike',
      'LatchkeyRefreshFailureRatioHigh',
      'LatchkeyProviderUnavailable',
    ]);
  });

  it('is valid for promtool check rules, lint included', () => {
    const { status, output } = promtool(['check', 'rules', '--lint=all', '--lint-fatal', 'alerts.yml']);
    expect(output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
    expect(status).toBe(0);
  });

  it('passes its unit tests (promtool test rules alerts.test.yml)', () => {
    const { status, output } = promtool(['test', 'rules', 'alerts.test.yml']);
    expect(output).toContain('SUCCESS');
    expect(status, output).toBe(0);
  });

  describe.each(ALERTS)('%s', (alert) => {
    it('has a test that fails when it can never fire', () => {
      const { status, output, failed } = testWith(withExpr(alert, 'vector(0) > 1'), `${alert}-never`);
      expect(status, output).not.toBe(0);
      expect(failed.filter((f) => f.alertname === alert && f.expected === 'alerts'), output).not.toEqual([]);
    });

    it('has a test that fails when it always fires (a case where it must stay silent, past its "for")', () => {
      const { status, output, failed } = testWith(withExpr(alert, 'vector(1)'), `${alert}-always`);
      expect(status, output).not.toBe(0);
      expect(failed.filter((f) => f.alertname === alert && f.expected === 'nothing'), output).not.toEqual([]);
    });
  });
});
