import { performance } from 'node:perf_hooks';
import type { Logger } from '../../app/logger.ts';
import type { RawRequest } from '../../app/transport.ts';
import type { EngineResponse } from '../http1/engine.ts';

/** One log line per request, when it finishes: for an App served without telemetry. */
export function accessLogger(log: Logger): (req: RawRequest, res: EngineResponse) => void {
  return (req, res) => {
    const start = performance.now();
    res.once('finish', () => {
      log.info(
        {
          method: req.method,
          url: req.url,
          status: res.statusCode,
          ms: Math.round((performance.now() - start) * 100) / 100,
          bytes: Number(res.getHeader('content-length') ?? 0),
          remote: req.socket.remoteAddress,
        },
        'request',
      );
    });
  };
}
