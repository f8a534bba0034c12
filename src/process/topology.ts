import { EventEmitter } from 'node:events';

/**
 * What a worker knows about the process model it runs in: its id, its generation and how many
 * workers share the node. The pre-fork server keeps it current over IPC; parts that divide a
 * node-wide budget (connection pools) listen for 'change'. In a plain single process it says
 * one worker.
 */
export class Topology extends EventEmitter<{ change: [Topology] }> {
  /** This worker's id (0 outside the pre-fork server). */
  workerId = 0;
  /** The generation of workers this one belongs to (reloads start a new one). */
  generation = 0;
  /** How many workers serve on this node right now. */
  workerCount = 1;

  /** Updates the picture and tells listeners when the worker count changed. */
  update(next: Partial<Pick<Topology, 'workerId' | 'generation' | 'workerCount'>>): void {
    const before = this.workerCount;
    if (next.workerId !== undefined) this.workerId = next.workerId;
    if (next.generation !== undefined) this.generation = next.generation;
    if (next.workerCount !== undefined) this.workerCount = Math.max(1, next.workerCount);
    if (this.workerCount !== before) this.emit('change', this);
  }
}

/** The topology of this process. */
export const topology = new Topology();
