import { nodeBus } from '../../process/node-bus.ts';
import type { MasterMessages, MessageRegistry, WorkerMessages } from '../ipc.ts';

/** What the link needs from the worker runtime. */
export interface LinkHost {
  readonly messages: MessageRegistry<MasterMessages, undefined>;
  send<K extends keyof WorkerMessages>(type: K, data: WorkerMessages[K]): Promise<void>;
}

interface Waiting {
  /** Workers the master sent the message to (unknown until it says). */
  expected: number | undefined;
  handled: number;
  done(): void;
}

/**
 * Connects this worker's node bus to the other workers through the master: what a subscriber
 * publishes goes to the master, which relays it; each worker hands it to its own subscribers and
 * acknowledges, and the publisher resolves once every worker the master reached has done so.
 */
export function linkNodeBus(host: LinkHost, nodeId: string): void {
  let next = 0;
  const waiting = new Map<number, Waiting>();
  const settle = (id: number, w: Waiting) => {
    if (w.expected !== undefined && w.handled >= w.expected) {
      waiting.delete(id);
      w.done();
    }
  };
  host.messages.on('node-message', ({ from, id, channel, payload }) => {
    nodeBus.deliver(channel, payload);
    void host.send('node-handled', { to: from, id });
  });
  host.messages.on('node-relayed', ({ id, count }) => {
    const w = waiting.get(id);
    if (w === undefined) return;
    w.expected = count;
    settle(id, w);
  });
  host.messages.on('node-handled', ({ id }) => {
    const w = waiting.get(id);
    if (w === undefined) return;
    w.handled++;
    settle(id, w);
  });
  nodeBus.connect(
    {
      publish(channel, payload, timeoutMs) {
        if (!process.connected) return Promise.resolve();
        return new Promise<void>((resolve) => {
          const id = ++next;
          // A worker that does not answer (stuck, dying) must not hold the publisher up for long;
          // the message still reaches it when its event loop turns.
          const timer = setTimeout(() => {
            waiting.delete(id);
            resolve();
          }, timeoutMs);
          timer.unref();
          waiting.set(id, {
            expected: undefined,
            handled: 0,
            done: () => {
              clearTimeout(timer);
              resolve();
            },
          });
          void host.send('node-publish', { id, channel, payload });
        });
      },
    },
    nodeId,
  );
}
