import type { Logger } from 'pino';
import type { Autoscaler } from './autoscaler.ts';
import type { WorkerPool } from './pool.ts';
import type { RestartPolicy } from './restart-policy.ts';
import type { MasterStatsBook } from './stats.ts';
import { isServing } from './worker-table.ts';

/** How long a fast stop (INT/QUIT) gives workers before killing them, ms. */
export const FAST_STOP_GRACE = 2000;

/** What the master wants the workers to be; signals change it, `reconcile` acts on it. */
export interface Plan {
  /** The generation that serves. */
  generation: number;
  /** How many workers it should have. */
  target: number;
  /** A reload in progress: the generation being started and its size (a reloaded config may change it). */
  reload: { generation: number; startedAt: number; target: number } | undefined;
  /** Another `HUP` arrived during the reload. */
  reloadAgain: boolean;
  /** A stop in progress; graceful stops drain once `drainAt` has passed. */
  stop: { mode: 'graceful' | 'fast'; drainAt: number } | undefined;
}

/** What reconciling needs besides the plan. */
export interface ReconcileContext {
  pool: WorkerPool;
  policy: RestartPolicy;
  book: MasterStatsBook;
  log: Logger;
  now: number;
  /** With `--workers auto`: moves the target by the workers' load. */
  scaler?: Autoscaler | undefined;
}

/**
 * Brings the workers in line with the plan, Gunicorn's `manage_workers` for every state the
 * master can be in: the watchdog first, then stopping, or else reload, the autoscaler (with
 * `--workers auto`), current generation and stale generations. Runs after every event, so a decision is never more than a tick late.
 */
export function reconcile(plan: Plan, ctx: ReconcileContext): { reloadAgain: boolean } {
  ctx.pool.watch(ctx.now);
  let reloadAgain = false;
  if (plan.stop !== undefined) {
    manageStop(plan, ctx);
  } else {
    reloadAgain = manageReload(plan, ctx);
    ctx.scaler?.manage(plan, ctx.pool, ctx.now);
    manageCurrent(plan, ctx);
    drainStale(plan, ctx);
  }
  ctx.pool.shareTopology();
  return { reloadAgain };
}

function manageStop(plan: Plan, { pool, now }: ReconcileContext): void {
  const stop = plan.stop!;
  for (const w of pool.all()) {
    if (stop.mode === 'fast') {
      if (w.state !== 'stopping') pool.quit(w, 'fast stop', FAST_STOP_GRACE);
    } else if (now >= stop.drainAt) {
      if (w.state === 'ready') pool.drain(w, 'stopping');
      else if (w.state === 'booting') pool.quit(w, 'stopping while booting', FAST_STOP_GRACE);
    }
  }
}

/** A reload's generation is spawned in full; once every worker is ready it becomes current. */
function manageReload(plan: Plan, { pool, book, log, now }: ReconcileContext): boolean {
  const r = plan.reload;
  if (r === undefined) return false;
  const fresh = pool.all().filter((w) => w.generation === r.generation && isServing(w));
  if (fresh.filter((w) => w.state === 'ready').length >= r.target) {
    plan.generation = r.generation;
    plan.target = r.target;
    plan.reload = undefined;
    book.reload('succeeded');
    log.info(
      { generation: r.generation, ms: now - r.startedAt },
      'reload complete; draining the previous generation',
    );
    const again = plan.reloadAgain;
    plan.reloadAgain = false;
    return again;
  }
  for (let n = fresh.length; n < r.target; n++) pool.spawn(r.generation);
  return false;
}

/** Keeps the current generation at the target; recycles retiring workers once covered. */
function manageCurrent(plan: Plan, { pool, policy, now }: ReconcileContext): void {
  const current = pool.all().filter((w) => w.generation === plan.generation);
  const serving = current.filter((w) => isServing(w) && w.retire === undefined);
  if (serving.length > plan.target) {
    const extra = serving
      .sort((a, b) => b.spawnedAt - a.spawnedAt)
      .slice(0, serving.length - plan.target);
    for (const w of extra) {
      if (w.state === 'booting') pool.quit(w, 'scale-down', FAST_STOP_GRACE);
      else pool.retire(w, 'scale-down');
    }
  } else if (serving.length < plan.target && policy.maySpawn(now)) {
    for (let n = serving.length; n < plan.target; n++) pool.spawn(plan.generation);
  }
  // A retiring worker drains only once the others cover the target: its replacement is ready.
  const readyFresh = current.filter((w) => w.state === 'ready' && w.retire === undefined).length;
  const retiring = current
    .filter((w) => w.state === 'ready' && w.retire !== undefined)
    .sort((a, b) => (a.readyAt ?? 0) - (b.readyAt ?? 0));
  let remaining = retiring.length;
  for (const w of retiring) {
    if (readyFresh + remaining - 1 < plan.target) break;
    pool.drain(w, `recycled (${w.retire})`);
    remaining--;
  }
}

/** Workers of a generation that is neither current nor being started drain. */
function drainStale(plan: Plan, { pool }: ReconcileContext): void {
  for (const w of pool.all()) {
    if (!isServing(w) || w.generation === plan.generation) continue;
    if (plan.reload !== undefined && w.generation === plan.reload.generation) continue;
    if (w.state === 'ready') pool.drain(w, `generation ${w.generation} replaced`);
    else pool.quit(w, 'generation abandoned', FAST_STOP_GRACE);
  }
}
