import { performance } from 'node:perf_hooks';
import type { Logger } from '../../app/logger.ts';
import type { RawRequest } from '../../app/transport.ts';
import type { EngineResponse } from '../http1/engine.ts';

/**
 * One access-log line (message `request`, at `info`), whoever writes it: the App's telemetry
 * (every field it knows) or, for an App served without telemetry, the server (no route, request
 * id or trace: it sees only the connection and the status).
 */
export interface AccessLogLine {
  readonly type: 'access';
  readonly method: string;
  /** The path, without the query. */
  readonly path: string;
  /** The matched URI template. */
  readonly route?: string | undefined;
  readonly status: number;
  /** From the request's arrival to its answer, in ms (to the microsecond). */
  readonly duration_ms: number;
  readonly request_id?: string;
  /** The client's address (through trusted proxies when the App knows them). */
  readonly client?: string | undefined;
  readonly trace_id?: string;
  readonly span_id?: string;
}

/** The message of every access-log line. */
export const ACCESS_LOG_MESSAGE = 'request';

/** A duration in ms, rounded to the microsecond, as access-log lines carry it. */
export function durationMs(ms: number): number {
  return Math.round(ms * 1e3) / 1e3;
}

/** The server's access log, for an App served without telemetry: one line per finished request. */
export function accessLogger(log: Logger): (req: RawRequest, res: EngineResponse) => void {
  return (req, res) => {
    const start = performance.now();
    res.once('finish', () => {
      const url = req.url ?? '/';
      const query = url.indexOf('?');
      const line: AccessLogLine = {
        type: 'access',
        method: req.method ?? '',
        path: query === -1 ? url : url.slice(0, query),
        status: res.statusCode,
        duration_ms: durationMs(performance.now() - start),
        client: req.socket.remoteAddress,
      };
      log.info(line, ACCESS_LOG_MESSAGE);
    });
  };
}
