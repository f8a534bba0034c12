import { oneOf, parseBoolean, setting } from './setting.ts';

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const FORMATS = ['auto', 'json', 'pretty'] as const;

/** A log level. */
export type LogLevel = (typeof LEVELS)[number];
/** A log format; `auto` is pretty on a terminal and JSON otherwise. */
export type LogFormat = (typeof FORMATS)[number];

/** Structured logs of master and workers. */
export const loggingSettings = {
  logLevel: setting<LogLevel>({
    name: 'log-level',
    section: 'Logging',
    kind: 'enum',
    meta: 'LEVEL',
    choices: LEVELS,
    default: () => 'info',
    parse: oneOf(LEVELS),
    doc: 'The least severe level written by master, workers and the App’s logger.',
  }),
  logFormat: setting<LogFormat>({
    name: 'log-format',
    section: 'Logging',
    kind: 'enum',
    meta: 'FORMAT',
    choices: FORMATS,
    default: () => 'auto',
    parse: oneOf(FORMATS),
    doc: '`json` (one JSON object a line, for collectors), `pretty` (readable), or `auto`: pretty when the log goes to a terminal, JSON otherwise.',
  }),
  logFile: setting<string>({
    name: 'log-file',
    section: 'Logging',
    kind: 'string',
    meta: 'FILE',
    default: () => '-',
    defaultDoc: '`-` (stderr)',
    parse: (text) => text.trim() || '-',
    doc: 'Append logs to this file instead of stderr. `USR1` reopens it (after log rotation moved it).',
  }),
  accessLog: setting<boolean>({
    name: 'access-log',
    section: 'Logging',
    kind: 'boolean',
    default: () => false,
    parse: parseBoolean,
    doc: 'Log one line per request at `info` (message `request`): `type` (`access`), `method`, `path`, `route` (the template), `status`, `duration_ms`, `request_id`, `client` (the address), and `trace_id`/`span_id` (unless `--no-tracing`). With `--no-telemetry`, or an App built with `instrumentation: false`, the server writes the line instead, in the same format without `route`, `request_id` and the trace ids (`client` is then the peer address).',
  }),
} as const;
