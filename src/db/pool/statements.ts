import pg from 'pg';
import type { Row } from '../db.ts';
import { DatabaseUnavailableError, StatementTimeoutError } from '../errors.ts';
import { sendCancel } from './cancel.ts';

/** What node-postgres returns for one statement. */
export type PgResult = pg.QueryResult<Row>;

/** SQLSTATEs that mean the server is going away or refusing, not that the statement is wrong. */
export function unavailableCode(code: string | undefined): boolean {
  return (
    code !== undefined &&
    (code.startsWith('08') ||
      code === '57P01' ||
      code === '57P02' ||
      code === '57P03' ||
      code === '53300')
  );
}

/** Errors that say the connection itself is gone (not a SQL error the server sent). */
export function connectionLost(err: unknown): boolean {
  return !(err instanceof pg.DatabaseError) || unavailableCode(err.code);
}

/** The error a caller sees: 503s for timeouts and unavailability, SQL errors as they are. */
export function mapPgError(err: unknown, timeout: number): unknown {
  if (err instanceof pg.DatabaseError) {
    if (err.code === '57014') return new StatementTimeoutError(timeout, err);
    if (unavailableCode(err.code)) {
      return new DatabaseUnavailableError('The database refused the statement.', err);
    }
    return err;
  }
  return new DatabaseUnavailableError('The database connection was lost.', err);
}

/** How statements on one connection are bounded. */
export interface RunLimits {
  timeout: number;
  signal: AbortSignal | undefined;
  /** Where to send a CancelRequest. */
  host: string;
  port: number;
  /** How long a silent server gets after a cancel before the connection counts as lost. */
  cancelGrace: number;
}

/** What the pool learns from a run. */
export interface RunHooks {
  /** Every statement finished; `lost` when the connection itself failed. */
  settled(lost: boolean): void;
  /** The server did not answer a cancel within the grace period. */
  silent(): void;
  /** The caller got an error. */
  failed(): void;
}

/**
 * Sends the statements on one connection (pipelined when several) and settles when they all
 * have. A timeout or abort answers the caller at once and cancels on the server; the connection
 * stays busy until the server lets go of it — so the pool never opens more connections than its
 * budget while cancelled statements wind down — or is reported silent if the server says nothing.
 */
export function runStatements(
  client: pg.Client,
  configs: readonly pg.QueryConfig[],
  limits: RunLimits,
  hooks: RunHooks,
): Promise<PgResult[]> {
  return run(client, configs, limits, hooks, false) as Promise<PgResult[]>;
}

/**
 * `runStatements` for statements of different callers: each slot of the answer is that
 * statement's result or its error (mapped like the caller would see it), so one failing
 * statement does not fail the others. A timeout or abort still rejects the whole run.
 */
export function runStatementsEach(
  client: pg.Client,
  configs: readonly pg.QueryConfig[],
  limits: RunLimits,
  hooks: RunHooks,
): Promise<Array<PgResult | Error>> {
  return run(client, configs, limits, hooks, true);
}

function run(
  client: pg.Client,
  configs: readonly pg.QueryConfig[],
  limits: RunLimits,
  hooks: RunHooks,
  each: boolean,
): Promise<Array<PgResult | Error>> {
  const { timeout, signal } = limits;
  return new Promise<Array<PgResult | Error>>((resolve, reject) => {
    const results: Array<PgResult | Error> = new Array(configs.length);
    let left = configs.length;
    let failure: unknown;
    let answered = false;
    let timer: NodeJS.Timeout | undefined;
    let grace: NodeJS.Timeout | undefined;
    const settled = () => {
      if (--left > 0) return;
      clearTimeout(timer);
      clearTimeout(grace);
      signal?.removeEventListener('abort', onAbort);
      hooks.settled(failure !== undefined && connectionLost(failure));
      if (answered) return;
      answered = true;
      if (failure === undefined || each) resolve(results);
      else {
        hooks.failed();
        reject(mapPgError(failure, timeout));
      }
    };
    const abandon = (err: unknown) => {
      if (answered) return;
      answered = true;
      hooks.failed();
      reject(err);
      const ids = client as unknown as { processID: number | null; secretKey: number | null };
      if (ids.processID !== null && ids.secretKey !== null) {
        sendCancel(limits.host, limits.port, ids.processID, ids.secretKey);
      }
      grace = setTimeout(() => hooks.silent(), limits.cancelGrace);
      grace.unref();
    };
    const onAbort = () => abandon(signal!.reason);
    // PERF: node-postgres's callback form, not its promise form. Under load the promise form
    // made every statement's objects (the Query, its rows and messages, the promises) outlive a
    // scavenge and get promoted — ~0.5 MiB a scavenge against ~0.02 with callbacks in the same
    // loop — so old space filled with garbage between mark-compacts (docs/performance.md, "Peak
    // memory under load"). It also saves two promises and a reaction per statement. The callback
    // runs inside node-postgres's message handling and must not throw.
    for (let i = 0; i < configs.length; i++) {
      client.query(configs[i]!, (err: Error | null, r: PgResult) => {
        if (err === null || err === undefined) results[i] = r;
        else {
          failure ??= err;
          if (each) {
            const mapped = mapPgError(err, timeout);
            results[i] = mapped instanceof Error ? mapped : new Error(String(mapped));
            hooks.failed();
          }
        }
        settled();
      });
    }
    if (Number.isFinite(timeout)) {
      timer = setTimeout(() => abandon(new StatementTimeoutError(timeout)), timeout);
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
