import { connect } from 'node:net';
import type { TestContext } from 'node:test';

/** Whether a TCP port answers on a host within `timeoutMs`. */
export function portAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const DEFAULTS = {
  postgres: { env: 'DATABASE_URL', url: 'postgres://postgres@127.0.0.1:5432/test', port: 5432 },
  redis: { env: 'REDIS_URL', url: 'redis://127.0.0.1:6379', port: 6379 },
} as const;

/**
 * The URL of a service a test needs. When the service does not answer, the test is skipped on a
 * developer machine but fails under CI (`CI=true`), so CI can never pass by skipping.
 */
export async function requireService(
  t: TestContext,
  service: keyof typeof DEFAULTS,
): Promise<string | undefined> {
  const d = DEFAULTS[service];
  const url = process.env[d.env] ?? d.url;
  const parsed = new URL(url);
  const port = parsed.port === '' ? d.port : Number(parsed.port);
  if (await portAnswers(parsed.hostname, port)) return url;
  const why = `${service} is not reachable at ${parsed.hostname}:${port} (${d.env})`;
  if (process.env.CI === 'true' || process.env.CI === '1') throw new Error(`${why}; CI needs it`);
  t.skip(why);
  return undefined;
}
