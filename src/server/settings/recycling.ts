import { parseInteger, range, setting } from './setting.ts';

/** When a worker is replaced by a fresh one (its replacement is ready before it drains). */
export const recyclingSettings = {
  maxRequests: setting<number>({
    name: 'max-requests',
    section: 'Recycling',
    kind: 'integer',
    meta: 'N',
    default: () => 0,
    defaultDoc: '0 (off)',
    parse: parseInteger,
    validate: range(0),
    doc: 'Replace a worker after it has served this many requests (a guard against slow leaks). 0 turns it off.',
  }),
  maxRequestsJitter: setting<number>({
    name: 'max-requests-jitter',
    section: 'Recycling',
    kind: 'integer',
    meta: 'N',
    default: () => 0,
    parse: parseInteger,
    validate: range(0),
    doc: 'Add a random 0…N to each worker’s `--max-requests`, so workers do not all recycle at once.',
  }),
  maxMemory: setting<number>({
    name: 'max-memory',
    section: 'Recycling',
    kind: 'integer',
    meta: 'MIB',
    default: () => 0,
    defaultDoc: '0 (off)',
    parse: parseInteger,
    validate: range(0),
    doc: 'Replace a worker whose resident memory (RSS) exceeds this many MiB; checked on every heartbeat (at least once a second). 0 turns it off.',
  }),
} as const;
