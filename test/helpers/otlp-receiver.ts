import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';

const require = createRequire(import.meta.url);

/** A decoded span, with ids as hex. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  status: { code: number };
  service: string;
  scope: string;
}

interface Decoded {
  resourceSpans: Array<{
    resource?: { attributes: Array<{ key: string; value: Record<string, unknown> }> };
    scopeSpans: Array<{
      scope?: { name: string };
      spans: Array<{
        traceId: Uint8Array;
        spanId: Uint8Array;
        parentSpanId?: Uint8Array;
        name: string;
        kind: number;
        attributes: Array<{ key: string; value: Record<string, unknown> }>;
        status?: { code?: number };
      }>;
    }>;
  }>;
}

/** The protobufjs root generated from opentelemetry-proto, as shipped by otlp-transformer 0.214. */
const ExportTraceServiceRequest = (
  require('otlp-proto-root/build/src/generated/root.js') as {
    opentelemetry: {
      proto: {
        collector: {
          trace: {
            v1: {
              ExportTraceServiceRequest: {
                decode(b: Uint8Array): unknown;
                toObject(m: unknown, o: object): unknown;
              };
            };
          };
        };
      };
    };
  }
).opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;

/**
 * Decodes an OTLP `ExportTraceServiceRequest` with the OpenTelemetry protocol definitions (not
 * Peregrine's code); `options` are protobufjs' `toObject` conversion options.
 */
export function decodeTraceRequest<T = unknown>(bytes: Uint8Array, options: object): T {
  return ExportTraceServiceRequest.toObject(ExportTraceServiceRequest.decode(bytes), options) as T;
}

/**
 * A test OTLP/HTTP collector: it decodes every request with the OpenTelemetry protocol
 * definitions (the protobufjs root generated from opentelemetry-proto, as shipped by
 * @opentelemetry/otlp-transformer 0.214) — not with Peregrine's code.
 */
export async function startOtlpReceiver(): Promise<{
  url: string;
  spans: ReceivedSpan[];
  requests: number;
  close(): Promise<void>;
}> {
  const state = { spans: [] as ReceivedSpan[], requests: 0 };
  const hex = (b: Uint8Array | undefined) =>
    b === undefined ? '' : Buffer.from(b).toString('hex');
  const value = (v: Record<string, unknown>) =>
    v.stringValue ?? v.intValue ?? v.doubleValue ?? v.boolValue ?? v.arrayValue;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.requests++;
      if (req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/x-protobuf') {
        res.writeHead(415).end();
        return;
      }
      const msg = decodeTraceRequest<Decoded>(Buffer.concat(chunks), {
        longs: Number,
        defaults: true,
      });
      for (const rs of msg.resourceSpans) {
        const service = rs.resource?.attributes.find((a) => a.key === 'service.name');
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            state.spans.push({
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              name: s.name,
              kind: s.kind,
              attributes: Object.fromEntries(s.attributes.map((a) => [a.key, value(a.value)])),
              status: { code: s.status?.code ?? 0 },
              service: String(service === undefined ? '' : value(service.value)),
              scope: ss.scope?.name ?? '',
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    get spans() {
      return state.spans;
    },
    get requests() {
      return state.requests;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
