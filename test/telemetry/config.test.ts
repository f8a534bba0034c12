import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveSettings } from '../../src/server/settings/resolve.ts';
import { settingsFromEnv } from '../../src/telemetry/config.ts';

// serve() in one process reads its telemetry settings from the environment; peregrine serve
// resolves the same variables. Both must read every value the same way.
const CASES: Record<string, string>[] = [
  {},
  { PEREGRINE_TELEMETRY: '' },
  { PEREGRINE_TELEMETRY: 'off' },
  { PEREGRINE_TELEMETRY: 'No' },
  { PEREGRINE_TELEMETRY: 'disabled' },
  { PEREGRINE_TRACING: '0' },
  { PEREGRINE_TRACING: ' yes ' },
  { PEREGRINE_TRACING: 'nope' },
  { PEREGRINE_TRACES_KEEP_ERRORS: 'false' },
  { PEREGRINE_ACCESS_LOG: 'on' },
  { PEREGRINE_ACCESS_LOG: '' },
  { PEREGRINE_TRACES_SLOW_MS: '250' },
  { PEREGRINE_TRACES_SLOW_MS: '0' },
  { PEREGRINE_TRACES_SLOW_MS: '2.5' },
  { PEREGRINE_TELEMETRY_INTERVAL: '100' },
  { PEREGRINE_TELEMETRY_INTERVAL: '50' },
];

for (const env of CASES) {
  test(`telemetry reads ${JSON.stringify(env)} as peregrine serve does`, async () => {
    const served = await resolveSettings({ env }).then(
      ({ settings: s }) => ({
        telemetry: s.telemetry,
        tracing: s.tracing,
        tracesSlowMs: s.tracesSlowMs,
        tracesKeepErrors: s.tracesKeepErrors,
        telemetryInterval: s.telemetryInterval,
        accessLog: s.accessLog,
      }),
      () => 'refused',
    );
    let own: unknown;
    try {
      own = settingsFromEnv(env);
    } catch (err) {
      // The message names the variable.
      assert.match((err as Error).message, new RegExp(Object.keys(env)[0]!));
      own = 'refused';
    }
    assert.deepEqual(own, served);
  });
}
