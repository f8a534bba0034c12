import { nodeBus } from '../../process/node-bus.ts';
import type { MasterMessages, MessageRegistry, WorkerMessages } from '../ipc.ts';

/** What the link needs from the worker runtime. */
export interface LinkHost {
  readonly messages: MessageRegistry<MasterMessages, undefined>;
  send<K extends keyof WorkerMessages>(type: K, data: WorkerMessages[K]): Promise<void>;
}

/** A publisher waiting for the node to handle its message. */
interface Publisher {
  resolve(): void;
  timer: NodeJS.Timeout;
}

/** The messages of one turn, sent to the master as one. */
interface Batch {
  messages: Array<[channel: string, payload: unknown]>;
  publishers: Publisher[];
  /** The longest wait a publisher asked for: after it the batch is forgotten. */
  timeoutMs: number;
  /** Workers the master relayed the batch to (unknown until it says). */
  expected: number | undefined;
  handled: number;
}

/** Answers the publishers of a batch (those whose wait ran out were answered already). */
function release(batch: Batch): void {
  for (const p of batch.publishers) {
    clearTimeout(p.timer);
    p.resolve();
  }
}

/**
 * Connects this worker's node bus to the other workers through the master. What subscribers
 * publish in one turn of the event loop goes to the master as one message (so IPC grows with
 * the turns that publish, not with every write), which relays it; each worker hands the payloads
 * to its own subscribers and acknowledges, and the publishers resolve once every worker the
 * master reached has done so — or when their own wait runs out.
 */
export function linkNodeBus(host: LinkHost, nodeId: string): void {
  let next = 0;
  let open: Batch | undefined;
  const sent = new Map<number, Batch>();
  const settle = (id: number, batch: Batch) => {
    if (batch.expected !== undefined && batch.handled >= batch.expected) {
      sent.delete(id);
      release(batch);
    }
  };
  const flush = () => {
    const batch = open!;
    open = undefined;
    const id = ++next;
    sent.set(id, batch);
    // Acknowledgements that never come (a worker died after the relay) must not be waited for.
    setTimeout(() => {
      if (sent.delete(id)) release(batch);
    }, batch.timeoutMs).unref();
    void host.send('node-publish', { id, messages: batch.messages });
  };
  host.messages.on('node-message', ({ from, id, messages }) => {
    for (const [channel, payload] of messages) nodeBus.deliver(channel, payload);
    void host.send('node-handled', { to: from, id });
  });
  host.messages.on('node-relayed', ({ id, count }) => {
    const batch = sent.get(id);
    if (batch === undefined) return;
    batch.expected = count;
    settle(id, batch);
  });
  host.messages.on('node-handled', ({ id }) => {
    const batch = sent.get(id);
    if (batch === undefined) return;
    batch.handled++;
    settle(id, batch);
  });
  nodeBus.connect(
    {
      publish(channel, payload, timeoutMs) {
        if (!process.connected) return Promise.resolve();
        return new Promise<void>((resolve) => {
          if (open === undefined) {
            open = { messages: [], publishers: [], timeoutMs, expected: undefined, handled: 0 };
            // After this turn's I/O callbacks: the writes of every request read in it share one.
            setImmediate(flush);
          }
          // A worker that does not answer (stuck, dying) must not hold the publisher up for long;
          // the message still reaches it when its event loop turns.
          const timer = setTimeout(resolve, timeoutMs);
          timer.unref();
          open.timeoutMs = Math.max(open.timeoutMs, timeoutMs);
          open.messages.push([channel, payload]);
          open.publishers.push({ resolve, timer });
        });
      },
    },
    nodeId,
  );
}
