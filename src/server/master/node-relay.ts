import type { MasterMessages, MessageRegistry, WorkerMessages } from '../ipc.ts';
import type { WorkerRecord } from './worker-table.ts';

/** What the relay needs from the master. */
export interface RelayHost {
  readonly messages: MessageRegistry<WorkerMessages, WorkerRecord>;
  workers(): readonly WorkerRecord[];
  send<K extends keyof MasterMessages>(
    worker: WorkerRecord | number,
    type: K,
    data: MasterMessages[K],
  ): void;
}

/**
 * Relays node-bus messages (src/process/node-bus.ts) from one worker to every other live one
 * and their acknowledgements back, so a publisher learns when the whole node has handled its
 * message. The master keeps no state for it: the publisher counts the acknowledgements against
 * the number of workers the master reports having sent the message to.
 */
export function relayNodeMessages(host: RelayHost): void {
  host.messages.on('node-publish', ({ id, messages }, from) => {
    let count = 0;
    for (const w of host.workers()) {
      if (w === from || w.state === 'exited' || !w.process.isConnected()) continue;
      host.send(w, 'node-message', { from: from.id, id, messages });
      count++;
    }
    host.send(from, 'node-relayed', { id, count });
  });
  host.messages.on('node-handled', ({ to, id }) => host.send(to, 'node-handled', { id }));
}
