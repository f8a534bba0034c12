import { parseBoolean, parseSeconds, range, setting } from './setting.ts';

/** The admin listener's access rules and the dashboard it serves. */
export const adminSettings = {
  adminToken: setting<string | null>({
    name: 'admin-token',
    section: 'Admin and dashboard',
    kind: 'string',
    meta: 'TOKEN',
    default: () => null,
    defaultDoc: 'none',
    parse: (text) => (text.trim() === '' ? null : text.trim()),
    validate: (v) => (v !== null && v.length < 16 ? 'needs at least 16 characters' : undefined),
    masterOnly: true,
    doc: 'The bearer token `/dashboard` and `/api/*` require (`Authorization: Bearer TOKEN`). Required when `--admin` is not a loopback address: the master refuses to start without one. `/healthz`, `/readyz` and `/metrics` stay open unless `--admin-protect-metrics`. Prefer the environment variable to the flag, which other users can read in the process list.',
  }),
  adminProtectMetrics: setting<boolean>({
    name: 'admin-protect-metrics',
    section: 'Admin and dashboard',
    kind: 'boolean',
    default: () => false,
    parse: parseBoolean,
    masterOnly: true,
    doc: '`/metrics` requires the admin token too (give the scraper `authorization` credentials). Only with `--admin-token`.',
  }),
  apdexThreshold: setting<number>({
    name: 'apdex-threshold',
    section: 'Admin and dashboard',
    kind: 'seconds',
    meta: 'SECONDS',
    default: () => 0.5,
    parse: parseSeconds,
    validate: range(0.001, 60),
    doc: "The dashboard's Apdex threshold T: a request is satisfied within T, tolerating within 4 T, frustrated beyond (or when it failed with a 5xx).",
  }),
} as const;
