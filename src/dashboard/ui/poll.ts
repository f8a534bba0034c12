import { useEffect, useState } from 'preact/hooks';
import { get } from './api.ts';

/** The answer of a polled API path: the latest data, or why it failed. */
export interface Polled<T> {
  data: T | undefined;
  error: string | undefined;
}

/**
 * GETs `path` now and then every `everyMs` (1 s: the dashboard is live), never two at once, and
 * not while the page is hidden. Changing the path or its parameters starts again.
 */
export function usePoll<T>(
  path: string | null,
  params: Record<string, string> = {},
  everyMs = 1000,
): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined });
  const key = `${path}?${new URLSearchParams(params).toString()}`;
  useEffect(() => {
    if (path === null) return;
    let busy = false;
    let stopped = false;
    setState({ data: undefined, error: undefined });
    const once = async () => {
      if (busy || document.hidden) return;
      busy = true;
      try {
        const data = await get<T>(path, params);
        if (!stopped) setState({ data, error: undefined });
      } catch (err) {
        if (!stopped) setState((s) => ({ data: s.data, error: (err as Error).message }));
      } finally {
        busy = false;
      }
    };
    void once();
    const timer = everyMs > 0 ? setInterval(once, everyMs) : undefined;
    return () => {
      stopped = true;
      clearInterval(timer);
    };
  }, [key, everyMs]);
  return state;
}
