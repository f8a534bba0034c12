import type { MasterMessages, WorkerMessages } from '../ipc.ts';
import type { WorkerRecord } from './worker-table.ts';

type Answer = WorkerMessages['readiness'];

/** The combined answer of the workers to a readiness probe. */
export interface ProbeResult {
  /** Workers asked. */
  asked: number;
  /** Workers that answered in time. */
  answered: number;
  /** Whether every answer said ready. */
  ready: boolean;
  /** The App's readiness checks, merged (a check fails if it failed in any worker). */
  checks: Record<string, { ok: boolean; error?: string }>;
}

interface Pending {
  readonly waiting: Set<number>;
  readonly answers: Answer[];
  readonly done: () => void;
  readonly asked: number;
  readonly timer: NodeJS.Timeout;
}

/**
 * Runs the App's readiness checks in every ready worker (the master cannot: it never loads the
 * App) and merges the answers. A worker that does not answer in time is left out rather than
 * failing the probe: a stuck worker is the watchdog's business, and one busy worker must not
 * take a whole node out of a load balancer.
 */
export class ReadinessProbes {
  #nextId = 1;
  readonly #pending = new Map<number, Pending>();

  /** Asks the given workers; `send` delivers the probe to one worker. */
  probe(
    workerIds: readonly number[],
    timeout: number,
    send: (workerId: number, id: number) => void,
  ): Promise<ProbeResult> {
    const id = this.#nextId++;
    return new Promise((resolve) => {
      const finish = () => {
        const p = this.#pending.get(id);
        if (p === undefined) return;
        this.#pending.delete(id);
        clearTimeout(p.timer);
        const checks: ProbeResult['checks'] = {};
        for (const a of p.answers) {
          for (const [name, c] of Object.entries(a.checks)) {
            if (checks[name] === undefined || (checks[name].ok && !c.ok)) checks[name] = c;
          }
        }
        resolve({
          asked: p.asked,
          answered: p.answers.length,
          ready: p.answers.length > 0 && p.answers.every((a) => a.ready),
          checks,
        });
      };
      this.#pending.set(id, {
        waiting: new Set(workerIds),
        answers: [],
        done: finish,
        asked: workerIds.length,
        timer: setTimeout(finish, timeout + 250),
      });
      for (const workerId of workerIds) send(workerId, id);
      if (workerIds.length === 0) finish();
    });
  }

  /** Records a worker's answer (called from the master's loop). */
  answer(workerId: number, answer: Answer): void {
    const p = this.#pending.get(answer.id);
    if (p === undefined || !p.waiting.delete(workerId)) return;
    p.answers.push(answer);
    if (p.waiting.size === 0) p.done();
  }

  /** Forgets a worker that exited (its answer will not come). */
  forget(workerId: number): void {
    for (const p of this.#pending.values()) {
      if (p.waiting.delete(workerId) && p.waiting.size === 0) p.done();
    }
  }
}

/** How long a readiness probe waits for the workers' checks, ms. */
const PROBE_TIMEOUT = 1000;

/** The `/readyz` answer. */
export interface ReadinessAnswer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * The `/readyz` logic: 503 unless the master is running and has ready workers whose App
 * readiness checks pass. A stop that begins while the checks run still answers 503.
 */
export async function answerReadiness(ctx: {
  state: () => string;
  target: number;
  ready: () => readonly WorkerRecord[];
  probes: ReadinessProbes;
  send: (workerId: number, probe: MasterMessages['readiness-probe']) => void;
}): Promise<ReadinessAnswer> {
  const counts = () => ({ ready: ctx.ready().length, target: ctx.target });
  if (ctx.state() !== 'running') {
    return { status: 503, body: { status: ctx.state(), workers: counts() } };
  }
  const ids = ctx.ready().map((w) => w.id);
  if (ids.length === 0) return { status: 503, body: { status: 'starting', workers: counts() } };
  const result = await ctx.probes.probe(ids, PROBE_TIMEOUT, (workerId, id) =>
    ctx.send(workerId, { id, timeout: PROBE_TIMEOUT }),
  );
  if (ctx.state() !== 'running') {
    return { status: 503, body: { status: ctx.state(), workers: counts() } };
  }
  const ok = result.ready && result.answered > 0;
  return {
    status: ok ? 200 : 503,
    body: {
      status: ok ? 'ready' : 'not ready',
      workers: { ...counts(), answered: result.answered },
      checks: result.checks,
    },
  };
}
