// Its own file so the master can ask without loading the HTTP engine (and the App layer under it).

/** Whether this runtime's `listen()` understands `reusePort` (Node ≥ 22.12 / 23.1). */
export function supportsReusePort(): boolean {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return (
    process.platform === 'linux' &&
    (major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12))
  );
}
