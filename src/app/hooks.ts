import type { AfterHook, BeforeHook } from './middleware.ts';

/** Hooks attached to a responder function or a resource class. */
export interface HookSet {
  readonly before: BeforeHook[];
  readonly after: AfterHook[];
}

const HOOKS = Symbol.for('peregrine.hooks');

type Hookable = { [HOOKS]?: HookSet };

/** The hooks attached to a function or class (empty if none). */
export function hooksOf(target: unknown): HookSet {
  if ((typeof target !== 'function' && typeof target !== 'object') || target === null) {
    return { before: [], after: [] };
  }
  const own = Object.hasOwn(target, HOOKS) ? (target as Hookable)[HOOKS] : undefined;
  return own ?? { before: [], after: [] };
}

function attach(target: object, kind: 'before' | 'after', hook: BeforeHook | AfterHook): void {
  const t = target as Hookable;
  if (!Object.hasOwn(t, HOOKS)) {
    Object.defineProperty(t, HOOKS, { value: { before: [], after: [] }, enumerable: false });
  }
  const set = t[HOOKS]!;
  // Decorators apply bottom-up; prepend before hooks so they run in the order written.
  if (kind === 'before') set.before.unshift(hook as BeforeHook);
  else set.after.push(hook as AfterHook);
}

/** A decorator usable on a class or a method (TC39 decorators, or legacy TypeScript ones). */
export type HookDecorator = (target: object, context?: unknown, descriptor?: unknown) => void;

function decorator(kind: 'before' | 'after', hook: BeforeHook | AfterHook): HookDecorator {
  return (target, context, descriptor) => {
    // Legacy method decorator: (prototype, key, descriptor).
    if (
      descriptor !== undefined &&
      typeof (descriptor as PropertyDescriptor).value === 'function'
    ) {
      attach((descriptor as PropertyDescriptor).value as object, kind, hook);
      return;
    }
    void context;
    // TC39 method/class decorator (target is the function or class) and legacy class decorator.
    attach(target, kind, hook);
  };
}

/** Runs a hook before a responder (`@before(fn)` on a method) or before all of a resource's. */
export function before(hook: BeforeHook): HookDecorator {
  return decorator('before', hook);
}

/** Runs a hook after a responder (`@after(fn)` on a method) or after all of a resource's. */
export function after(hook: AfterHook): HookDecorator {
  return decorator('after', hook);
}

/** Attaches hooks to a function without decorator syntax; returns the function. */
export function withHooks<F extends object>(
  target: F,
  hooks: { before?: BeforeHook[]; after?: AfterHook[] },
): F {
  for (const hook of [...(hooks.before ?? [])].reverse()) attach(target, 'before', hook);
  for (const hook of hooks.after ?? []) attach(target, 'after', hook);
  return target;
}
