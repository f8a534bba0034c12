import { cpuBudget } from '../cores.ts';
import {
  parseBoolean,
  parseInteger,
  parseSeconds,
  range,
  SettingError,
  setting,
} from './setting.ts';

/**
 * Default of `--young-generation` (MiB per semi-space): what V8 gave a 64-bit Node before it
 * scaled the young generation with the heap, and what a raw `node:http` server under the
 * TechEmpower db tests settles at. See docs/performance.md, “Peak memory under load”.
 */
export const DEFAULT_YOUNG_GENERATION_MIB = 16;

/** `--workers`: a count, or `auto` (the master sizes the pool between the min and max). */
export type WorkerCount = number | 'auto';

function parseWorkers(text: string): WorkerCount {
  if (text.trim().toLowerCase() === 'auto') return 'auto';
  try {
    return parseInteger(text);
  } catch {
    throw new SettingError(`"${text}" is not a whole number or auto`);
  }
}

/** How many workers run and how the master supervises, stops and reloads them. */
export const processSettings = {
  workers: setting<WorkerCount>({
    name: 'workers',
    short: 'w',
    section: 'Processes',
    kind: 'integer',
    meta: 'N|auto',
    default: () => cpuBudget().cores,
    defaultDoc: 'the number of available cores (CPU affinity, lowered by a cgroup CPU quota)',
    parse: parseWorkers,
    validate: (v) => (v === 'auto' ? undefined : range(1, 1024)(v)),
    doc: 'How many worker processes serve requests. `TTIN`/`TTOU` change it at run time. `auto`: the master sizes the pool itself between `--min-workers` and `--max-workers`, adding workers while their event loops stay busy and CPU is free and retiring one when they stay idle (see the Autoscaling settings).',
  }),
  timeout: setting<number>({
    name: 'timeout',
    short: 't',
    section: 'Processes',
    kind: 'seconds',
    meta: 'SECONDS',
    default: () => 30,
    parse: parseSeconds,
    validate: range(0.5, 86_400),
    doc: 'Watchdog: a worker whose event loop has not turned for longer than this is killed (with its blocked stack logged) and replaced. The worker records each turn of its loop (every timeout ÷ 40, 10–50 ms) in a file the master reads on every tick (timeout ÷ 20, 25–250 ms), and the master counts only the time the loop certainly stood still — so a block shorter than this never costs a worker, however late IPC messages are, and a longer one is killed within about a tick of it. Heartbeat messages (every timeout ÷ 4, 0.1–1 s) carry the counters and memory use; they judge only if the file cannot be made.',
  }),
  startupTimeout: setting<number>({
    name: 'startup-timeout',
    section: 'Processes',
    kind: 'seconds',
    meta: 'SECONDS',
    default: () => 60,
    parse: parseSeconds,
    validate: range(1, 86_400),
    doc: 'How long a new worker may take to load the module, run the startup hooks and listen before it counts as failed to boot.',
  }),
  gracefulTimeout: setting<number>({
    name: 'graceful-timeout',
    section: 'Processes',
    kind: 'seconds',
    meta: 'SECONDS',
    default: () => 25,
    parse: parseSeconds,
    validate: range(0, 86_400),
    doc: 'How long a draining worker may take to finish its in-flight requests and shutdown hooks before it is killed. Keep drain delay + this below the orchestrator’s grace period (Kubernetes: 30 s).',
  }),
  drainDelay: setting<number>({
    name: 'drain-delay',
    section: 'Processes',
    kind: 'seconds',
    meta: 'SECONDS',
    default: () => 0,
    parse: parseSeconds,
    validate: range(0, 3600),
    doc: 'After `TERM`, `/readyz` answers 503 at once but workers keep serving this long, so a load balancer can stop sending new requests before the listeners close.',
  }),
  pid: setting<string | null>({
    name: 'pid',
    section: 'Processes',
    kind: 'string',
    meta: 'FILE',
    default: () => null,
    defaultDoc: 'none',
    parse: (text) => (text.trim() === '' ? null : text),
    masterOnly: true,
    doc: 'Write the master’s pid to this file (for sending signals); removed on exit. Refuses to start if it names a live process.',
  }),
  youngGeneration: setting<number>({
    name: 'young-generation',
    section: 'Processes',
    kind: 'integer',
    meta: 'MIB',
    default: () => DEFAULT_YOUNG_GENERATION_MIB,
    defaultDoc: `${DEFAULT_YOUNG_GENERATION_MIB}`,
    parse: parseInteger,
    validate: range(0, 1024),
    doc: 'Caps each worker’s V8 young generation: the worker starts with `--max-semi-space-size` of this many MiB (two semi-spaces of it are resident at full size). Left alone, V8 doubles a busy server’s semi-spaces up to 64 MiB each (on 64-bit Node without pointer compression) as soon as enough objects outlive a scavenge — which the requests in flight at any moment do — and that is most of what a worker holds over raw `node:http` under load (docs/performance.md, “Peak memory under load”). 0 leaves V8’s default. A `--max-semi-space-size` or `--max-heap-size` given to Node (`NODE_OPTIONS`, or the master’s own flags) wins. A reload applies a new value to the new workers.',
  }),
  watchdogStack: setting<boolean>({
    name: 'watchdog-stack',
    section: 'Processes',
    kind: 'boolean',
    default: () => true,
    parse: parseBoolean,
    doc: 'Capture the JavaScript stack of a blocked worker (through the inspector, from a watchdog thread) so the watchdog log line shows where it was stuck.',
  }),
} as const;
