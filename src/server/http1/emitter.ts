/**
 * The few events a request or response of the Peregrine HTTP/1.1 engine emits. A full
 * EventEmitter costs more to construct than the whole response costs to write, and almost every
 * exchange has no listener at all.
 */
// biome-ignore lint/suspicious/noExplicitAny: listeners of different events take different arguments.
type Listener = (...args: any[]) => void;

const kOnce = Symbol('peregrine.once');
type OnceListener = Listener & { [kOnce]?: Listener };

export class LightEmitter {
  #listeners: Record<string, OnceListener[]> | null = null;

  on(event: string, listener: Listener): this {
    this.#listeners ??= {};
    const list = this.#listeners[event];
    if (list === undefined) this.#listeners[event] = [listener];
    else list.push(listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    const wrapper: OnceListener = (...args: unknown[]) => {
      this.removeListener(event, wrapper);
      listener(...args);
    };
    wrapper[kOnce] = listener;
    return this.on(event, wrapper);
  }

  removeListener(event: string, listener: Listener): this {
    const list = this.#listeners?.[event];
    if (list === undefined) return this;
    const i = list.findIndex((l) => l === listener || l[kOnce] === listener);
    if (i !== -1) list.splice(i, 1);
    return this;
  }

  off(event: string, listener: Listener): this {
    return this.removeListener(event, listener);
  }

  listenerCount(event: string): number {
    return this.#listeners?.[event]?.length ?? 0;
  }

  /** Whether anyone listens at all (the common case is no). */
  protected get listened(): boolean {
    return this.#listeners !== null;
  }

  emit(event: string, arg?: unknown): boolean {
    const list = this.#listeners?.[event];
    if (list === undefined || list.length === 0) return false;
    if (list.length === 1) list[0]!(arg);
    else for (const l of list.slice()) l(arg);
    return true;
  }
}
