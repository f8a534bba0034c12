/**
 * The UI's only way to data: GET requests to a JSON API whose base the page names in
 * `<meta name="peregrine-api">` (default `api`, relative to the page), so the same UI can be
 * served by another backend (the many-service `peregrine apm`).
 */
export class ApiError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

function base(): string {
  const meta = document.querySelector<HTMLMetaElement>('meta[name="peregrine-api"]');
  return (meta?.content ?? 'api').replace(/\/$/, '');
}

/** GETs `path` under the API with query parameters; rejects with an ApiError on non-2xx. */
export async function get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
  const q = new URLSearchParams(params).toString();
  const res = await fetch(`${base()}/${path}${q ? `?${q}` : ''}`, {
    headers: { accept: 'application/json' },
    credentials: 'same-origin',
    cache: 'no-store',
  });
  if (!res.ok) {
    let detail = res.statusText;
    try {
      detail = ((await res.json()) as { detail?: string }).detail ?? detail;
    } catch {
      // not JSON: keep the status text
    }
    throw new ApiError(res.status, detail);
  }
  return (await res.json()) as T;
}
