import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';

/** The machine-wide lock every load test and benchmark holds (see HELPERS.md). */
export const LOAD_LOCK = '/tmp/peregrine-load.lock';

function ancestors(): Set<number> {
  const out = new Set<number>();
  let pid = process.pid;
  for (let i = 0; i < 64 && pid > 1; i++) {
    out.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return out;
}

/** Whether this process or an ancestor (`flock … npm test`) already holds the lock. */
function heldByAncestor(): boolean {
  let inode: number;
  try {
    inode = statSync(LOAD_LOCK).ino;
  } catch {
    return false;
  }
  const mine = ancestors();
  try {
    for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"
      if (f[1] !== 'FLOCK') continue;
      const pid = Number(f[4]);
      const ino = Number(f[5]?.split(':')[2]);
      if (ino === inode && mine.has(pid)) return true;
    }
  } catch {
    return false;
  }
  return false;
}

/**
 * Takes the shared load lock for the duration of a load test; resolves to a release function.
 * A `flock` child holds it (flock(1) is what everyone else uses), so the lock is released even if
 * this process is killed. Skipped when an ancestor already holds it, to avoid a deadlock.
 */
export async function acquireLoadLock(): Promise<() => Promise<void>> {
  if (process.env.PEREGRINE_LOAD_LOCK_HELD === '1' || heldByAncestor()) return async () => {};
  try {
    writeFileSync(LOAD_LOCK, '', { flag: 'a' });
  } catch {
    // Cannot create it; flock(1) will say so below.
  }
  const holder = spawn('flock', ['-w', '900', LOAD_LOCK, 'sh', '-c', 'echo locked; exec cat'], {
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const locked = await new Promise<boolean>((resolve) => {
    holder.stdout!.once('data', () => resolve(true));
    holder.once('exit', () => resolve(false));
    holder.once('error', () => resolve(false));
  });
  if (!locked) {
    process.stderr.write(`warning: could not take ${LOAD_LOCK}; running without it\n`);
    return async () => {};
  }
  return async () => {
    const gone = new Promise((resolve) => holder.once('exit', resolve));
    holder.stdin!.end();
    await gone;
  };
}
