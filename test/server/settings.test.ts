import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  camelName,
  envName,
  parseCommandLine,
  renderHelp,
  renderSettingsDoc,
  resolveSettings,
  SettingError,
  settingList,
  toConfigObject,
} from '../../src/server/settings/index.ts';

const BIN = new URL('../../bin/peregrine.js', import.meta.url).pathname;
const ROOT = new URL('../..', import.meta.url).pathname;

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, ['--conditions=peregrine-source', BIN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('settings declared once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peregrine-settings-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('each declaration is consistent: key, flag, env var', () => {
    const flags = new Set<string>();
    const shorts = new Set<string>();
    for (const [key, s] of settingList()) {
      assert.equal(camelName(s.name), key, `${s.name} is declared under ${key}`);
      assert.match(envName(s.name), /^PEREGRINE_[A-Z0-9_]+$/);
      assert.ok(!flags.has(s.name), `duplicate flag ${s.name}`);
      flags.add(s.name);
      if (s.short !== undefined) {
        assert.ok(!shorts.has(s.short), `duplicate short flag -${s.short}`);
        shorts.add(s.short);
      }
      assert.ok(s.doc.length > 20, `${s.name} is documented`);
      const value = s.default({});
      assert.equal(s.validate?.(value as never), undefined, `the default of ${s.name} is valid`);
    }
    for (const required of [
      'bind',
      'workers',
      'admin',
      'timeout',
      'graceful-timeout',
      'drain-delay',
      'keep-alive',
      'max-requests',
      'max-requests-jitter',
      'max-memory',
      'pid',
      'config',
      'backlog',
      'max-connections',
      'headers-timeout',
      'receive-timeout',
      'request-timeout',
      'max-header-size',
      'body-limit',
      'trusted-proxies',
      'reuse-port',
      'log-level',
      'log-format',
      'access-log',
      'shed-delay',
      'shed-utilization',
    ]) {
      assert.ok(flags.has(required), `--${required} exists`);
    }
  });

  test('docs/settings.md is generated from the declarations (npm run docs:settings)', () => {
    const file = readFileSync(new URL('../../docs/settings.md', import.meta.url), 'utf8');
    assert.equal(file, renderSettingsDoc(), 'docs/settings.md is stale: run npm run docs:settings');
    for (const [, s] of settingList()) assert.ok(file.includes(envName(s.name)));
    const help = renderHelp();
    for (const [, s] of settingList())
      assert.ok(help.includes(`--${s.name}`) || help.includes(`--[no-]${s.name}`));
  });

  test('precedence: default < config file < environment < command line', async () => {
    const config = join(dir, 'config.json');
    writeFileSync(
      config,
      JSON.stringify({
        workers: 3,
        maxRequests: 100,
        'keep-alive': '90s',
        bind: ['127.0.0.1:9100'],
      }),
    );
    const line = parseCommandLine(['--config', config, '--max-requests', '300', 'app.ts']);
    const { settings, sources } = await resolveSettings({
      cli: line.cli,
      env: { PEREGRINE_MAX_REQUESTS: '200', PEREGRINE_WORKERS: '4', PEREGRINE_TIMEOUT: '500ms' },
    });
    assert.equal(settings.maxRequests, 300);
    assert.equal(sources.maxRequests, 'cli');
    assert.equal(settings.workers, 4);
    assert.equal(sources.workers, 'env');
    assert.equal(settings.keepAlive, 90);
    assert.equal(sources.keepAlive, 'config');
    assert.equal(settings.timeout, 0.5);
    assert.deepEqual(settings.bind, [{ host: '127.0.0.1', port: 9100 }]);
    assert.equal(settings.gracefulTimeout, 25);
    assert.equal(sources.gracefulTimeout, 'default');
    assert.deepEqual(line.positionals, ['app.ts']);
  });

  test('$PORT sets the default bind; flags parse addresses, sizes and booleans', async () => {
    const fromPort = await resolveSettings({ env: { PORT: '5000' } });
    assert.deepEqual(fromPort.settings.bind, [{ host: '0.0.0.0', port: 5000 }]);
    const plain = await resolveSettings({ env: {} });
    assert.deepEqual(plain.settings.bind, [{ host: '127.0.0.1', port: 8000 }]);
    const line = parseCommandLine([
      '-b',
      '[::1]:8080',
      '--bind',
      'unix:/tmp/p.sock',
      '--bind',
      ':9000',
      '--max-header-size',
      '32k',
      '--body-limit',
      '2MiB',
      '--reuse-port',
      '--no-access-log',
      '--admin',
      'off',
      '--trusted-proxies',
      'loopback,10.0.0.0/8',
    ]);
    const { settings } = await resolveSettings({ cli: line.cli, env: {} });
    assert.deepEqual(settings.bind, [
      { host: '::1', port: 8080 },
      { path: '/tmp/p.sock' },
      { host: '0.0.0.0', port: 9000 },
    ]);
    assert.equal(settings.maxHeaderSize, 32 * 1024);
    assert.equal(settings.bodyLimit, 2 * 1024 * 1024);
    assert.equal(settings.reusePort, true);
    assert.equal(settings.accessLog, false);
    assert.equal(settings.admin, null);
    assert.deepEqual(settings.trustedProxies, ['loopback', '10.0.0.0/8']);
  });

  test('every problem is reported at once, naming the setting and its source', async () => {
    await assert.rejects(
      resolveSettings({
        cli: { workers: '0', timeout: 'soon' },
        env: { PEREGRINE_SHED_UTILIZATION: '2', PEREGRINE_BIND: 'nowhere' },
      }),
      (err: Error) => {
        assert.ok(err instanceof SettingError);
        assert.match(err.message, /--workers \(from cli\): must be at least 1/);
        assert.match(err.message, /"soon" is not a duration/);
        assert.match(err.message, /shed-utilization.*at most 1/);
        assert.match(err.message, /PEREGRINE_BIND.*HOST:PORT/);
        return true;
      },
    );
    await assert.rejects(
      resolveSettings({ cli: { headersTimeout: '90', receiveTimeout: '60' }, env: {} }),
      /headers-timeout must not exceed --receive-timeout/,
    );
    assert.throws(() => parseCommandLine(['--no-such-flag']), SettingError);
  });

  test('a config file may be a TS module; unknown keys are errors', async () => {
    const ts = join(dir, 'peregrine.config.ts');
    writeFileSync(
      ts,
      `export default (env: NodeJS.ProcessEnv) => ({ workers: 5, logLevel: env.LVL ?? 'warn' });\n`,
    );
    const { settings } = await resolveSettings({ cli: { config: ts }, env: { LVL: 'debug' } });
    assert.equal(settings.workers, 5);
    assert.equal(settings.logLevel, 'debug');
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ wrokers: 2 }));
    await assert.rejects(
      resolveSettings({ env: { PEREGRINE_CONFIG: bad } }),
      /unknown setting "wrokers"; did you mean workers\?/,
    );
  });

  test('an unknown flag names the closest one; an unknown command too', () => {
    const typo = cli(['serve', '--wrokers', '2', 'app.ts']);
    assert.equal(typo.code, 2);
    assert.equal(
      typo.stderr,
      'peregrine serve: unknown option --wrokers; did you mean --workers?\n(see peregrine serve --help)\n',
    );
    assert.throws(
      () => parseCommandLine(['--no-reuse-prot']),
      /^SettingError: unknown option --no-reuse-prot; did you mean --no-reuse-port\?$/,
    );
    assert.throws(
      () => parseCommandLine(['--graceful-timout=3']),
      /did you mean --graceful-timeout\?/,
    );
    // Nothing close: no guess, and none of parseArgs' advice about positional arguments.
    assert.throws(() => parseCommandLine(['--zzzzzz']), /^SettingError: unknown option --zzzzzz$/);
    assert.match(
      cli(['routes', '--jsno', 'app.ts']).stderr,
      /unknown option --jsno; did you mean --json\?/,
    );
    assert.match(cli(['serv', 'app.ts']).stderr, /unknown command "serv"; did you mean serve\?/);
  });

  test('--help lists every value of every enum setting (--http-engine: peregrine, node)', () => {
    const help = renderHelp();
    const doc = renderSettingsDoc();
    for (const [, s] of settingList()) {
      if (s.choices === undefined) continue;
      const line = help.split('\n').find((l) => l.startsWith(`  --${s.name} `));
      assert.ok(line, s.name);
      assert.ok(line.includes(`One of: ${s.choices.join(', ')}.`), line);
      assert.ok(doc.includes(`one of ${s.choices.map((c) => `\`${c}\``).join(', ')}`), s.name);
    }
    assert.match(help, /--http-engine ENGINE .*One of: peregrine, node\./);
  });

  test('--print-config prints the resolved settings as a config file', async () => {
    const r = cli(['serve', '--print-config', '-w', '3', '--max-requests', '1000'], {
      PORT: '7000',
    });
    assert.equal(r.code, 0, r.stderr);
    const printed = JSON.parse(r.stdout);
    assert.equal(printed.workers, 3);
    assert.equal(printed.maxRequests, 1000);
    assert.deepEqual(printed.bind, ['0.0.0.0:7000']);
    // It round-trips: the printed object is a valid config file.
    const file = join(dir, 'printed.json');
    writeFileSync(file, r.stdout);
    const { settings } = await resolveSettings({ cli: { config: file }, env: {} });
    assert.deepEqual(toConfigObject(settings), printed);
  });

  test('--check-config validates settings and loads the App', () => {
    const ok = cli(['serve', '--check-config', 'test/fixtures/server/app.ts']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ok: .*exports an App with \d+ routes/);
    const badApp = cli(['serve', '--check-config', 'test/fixtures/server/app.ts'], {
      FIXTURE_THROW_ON_IMPORT: '1',
    });
    assert.equal(badApp.code, 4);
    assert.match(badApp.stderr, /refuses to load/);
    const badSetting = cli(['serve', '--check-config', '--workers', 'many', 'x.ts']);
    assert.equal(badSetting.code, 2);
    assert.match(badSetting.stderr, /"many" is not a whole number/);
    const help = cli(['serve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Usage: peregrine serve/);
    assert.match(help.stdout, /--graceful-timeout SECONDS/);
  });
});
