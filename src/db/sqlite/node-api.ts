/**
 * better-sqlite3 13 is built for Node-API 10 (Node.js 22.14+ and 23.6+). On an older runtime its
 * constructor does not fail, it crashes the process (a segfault): check first and say why.
 */
export function checkNodeApi(napi: string | undefined = process.versions.napi): void {
  if (Number(napi) >= 10) return;
  throw new Error(
    `SQLite (better-sqlite3) needs Node-API 10, that is Node.js ≥ 22.14 (or ≥ 23.6); this is ` +
      `Node.js ${process.version} with Node-API ${napi ?? 'none'}. Upgrade Node.js, or set ` +
      'DATABASE_URL to use PostgreSQL.',
  );
}
