import { parseNumber, parseSeconds, range, setting } from './setting.ts';

/** Load shedding: answer fast 503s instead of queueing when a worker's event loop falls behind. */
export const protectionSettings = {
  shedDelay: setting<number>({
    name: 'shed-delay',
    section: 'Load shedding',
    kind: 'seconds',
    meta: 'SECONDS',
    default: () => 0.25,
    parse: parseSeconds,
    validate: range(0, 60),
    doc: 'Shed load when a worker falls this far behind: once a turn of its event loop has run this long, the requests it still reads get an immediate 503 with `Retry-After: 1` (`PRG_OVERLOADED`) instead of waiting behind the others; and a new connection that waited this long in the master for a busy worker gets the same answer from the master. Under overload this bounds the latency of the requests that are served; a healthy server never reaches it. 0 turns it off.',
  }),
  shedUtilization: setting<number>({
    name: 'shed-utilization',
    section: 'Load shedding',
    kind: 'number',
    meta: 'RATIO',
    default: () => 0,
    defaultDoc: '0 (off)',
    parse: parseNumber,
    validate: range(0, 1),
    doc: 'Also shed while the event-loop utilisation of the last sampling window exceeds this ratio (0…1). The window is a quarter of `--shed-delay`, between 5 and 100 ms (62.5 ms at the default; 100 ms when `--shed-delay` is 0). Coarser than `--shed-delay`: a worker can be fully busy and still answer in time. 0 turns it off.',
  }),
} as const;
