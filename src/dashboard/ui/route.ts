import { useEffect, useState } from 'preact/hooks';

/** Where the page is: `#/page?key=value`. */
export interface Place {
  page: string;
  params: URLSearchParams;
}

function parse(): Place {
  const h = location.hash.replace(/^#\/?/, '');
  const [page = '', query = ''] = h.split('?', 2);
  return { page: page || 'overview', params: new URLSearchParams(query) };
}

/** The link to a page. */
export function href(page: string, params: Record<string, string> = {}): string {
  const q = new URLSearchParams(params).toString();
  return `#/${page}${q ? `?${q}` : ''}`;
}

/** The current place, following the hash. */
export function usePlace(): Place {
  const [place, setPlace] = useState(parse);
  useEffect(() => {
    const on = () => setPlace(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return place;
}
