/** Turns values into bytes for the Redis tier and back. */
export interface Serializer<V> {
  serialize(value: V): Buffer | string;
  deserialize(raw: Buffer): V;
}

/** The default serializer: JSON as UTF-8. */
export const jsonSerializer: Serializer<unknown> = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (raw) => JSON.parse(raw.toString('utf8')),
};

/** A cached value with its freshness; `negative` marks a cached absence. */
export interface Entry<V> {
  value: V | undefined;
  negative: boolean;
  /** Fresh until (ms since epoch). */
  fresh: number;
  /** Servable while revalidating until (ms since epoch); ≥ fresh. */
  stale: number;
}

const HEADER = 17;

/**
 * The Redis form of an entry: 1 flag byte, fresh-until and stale-until as float64, then the
 * serialized value. Freshness travels with the value so every worker and node agrees on it.
 */
export function encodeEntry<V>(entry: Entry<V>, serializer: Serializer<V>): Buffer {
  const body = entry.negative ? Buffer.alloc(0) : serializer.serialize(entry.value as V);
  const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  out.writeUInt8(entry.negative ? 1 : 0, 0);
  out.writeDoubleBE(entry.fresh, 1);
  out.writeDoubleBE(entry.stale, 9);
  payload.copy(out, HEADER);
  return out;
}

/** Reads an entry written by `encodeEntry`; undefined if the bytes are not one. */
export function decodeEntry<V>(raw: Buffer, serializer: Serializer<V>): Entry<V> | undefined {
  if (raw.length < HEADER) return undefined;
  const flags = raw.readUInt8(0);
  if (flags > 1) return undefined;
  const negative = flags === 1;
  return {
    negative,
    fresh: raw.readDoubleBE(1),
    stale: raw.readDoubleBE(9),
    value: negative ? undefined : serializer.deserialize(raw.subarray(HEADER)),
  };
}
