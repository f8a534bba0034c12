import { AsyncLocalStorage } from 'node:async_hooks';
import { type Context, type ContextManager, ROOT_CONTEXT } from '@opentelemetry/api';

/**
 * The active OpenTelemetry Context of each async flow, kept in one AsyncLocalStorage. It is what
 * `context.active()` returns when Peregrine's bridge is registered, so a span started by a user's
 * OpenTelemetry instrumentation inside a request becomes a child of the request's server span.
 */
export class AsyncContextManager implements ContextManager {
  /** The storage (exposed so Peregrine reads the active span without the API's indirection). */
  readonly storage = new AsyncLocalStorage<Context>();

  active(): Context {
    return this.storage.getStore() ?? ROOT_CONTEXT;
  }

  with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(
    context: Context,
    fn: F,
    thisArg?: ThisParameterType<F>,
    ...args: A
  ): ReturnType<F> {
    const cb = thisArg === undefined ? fn : fn.bind(thisArg);
    return this.storage.run(context, cb as (...a: A) => ReturnType<F>, ...args);
  }

  bind<T>(context: Context, target: T): T {
    if (typeof target !== 'function') return target;
    const run = (fn: (...args: unknown[]) => unknown, self: unknown, args: unknown[]) =>
      this.storage.run(context, () => fn.apply(self, args));
    const fn = target as unknown as (...args: unknown[]) => unknown;
    const bound = function (this: unknown, ...args: unknown[]) {
      return run(fn, this, args);
    };
    Object.defineProperty(bound, 'length', { value: fn.length });
    return bound as unknown as T;
  }

  enable(): this {
    return this;
  }

  disable(): this {
    this.storage.disable();
    return this;
  }
}

/** The process's context manager (one storage, shared by Peregrine and the OpenTelemetry bridge). */
export const contextManager = new AsyncContextManager();

/** The key under which `@opentelemetry/api` keeps the active span (`createContextKey` is Symbol.for). */
const SPAN_KEY = Symbol.for('OpenTelemetry Context Key SPAN');

/**
 * A Context holding only a span. PERF: one small object per request instead of the API's
 * `ROOT_CONTEXT.setValue` copy of a Map; anything that adds a value gets a full context. A
 * subclass may produce the span on first read (the request's server span does).
 */
export class SpanOnlyContext implements Context {
  readonly #span: unknown;
  constructor(span: unknown) {
    this.#span = span;
  }
  /** The span this context holds. */
  protected get span(): unknown {
    return this.#span;
  }
  getValue(key: symbol): unknown {
    return key === SPAN_KEY ? this.span : undefined;
  }
  setValue(key: symbol, value: unknown): Context {
    return ROOT_CONTEXT.setValue(SPAN_KEY, this.span).setValue(key, value);
  }
  deleteValue(key: symbol): Context {
    return key === SPAN_KEY ? ROOT_CONTEXT : this;
  }
}
