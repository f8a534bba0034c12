/**
 * Preloaded into a benchmark server by `bench/peak-rss.ts --probe` (`node --import`): samples
 * `process.memoryUsage()` and V8's heap spaces every 50 ms and, when the process exits, writes
 * the peak of each figure (and the breakdown at the moment RSS peaked) to
 * `$BENCH_MEMORY_PROBE_DIR/<pid>.json`. Sampling costs a few µs per 50 ms.
 *
 * With `BENCH_HEAP_SAMPLING=promoted` it also runs V8's sampling heap profiler keeping the
 * samples of objects a major GC collected (`includeObjectsCollectedByMajorGC`), but not those a
 * scavenge collected: what is left is what survived the young generation — live objects and
 * objects promoted to the old generation that died there, the ones that make V8 grow its
 * young generation. Written to `<pid>.heapprofile` (open it in Chrome DevTools).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';

const dir = process.env.BENCH_MEMORY_PROBE_DIR;
if (dir) {
  const MiB = 1024 * 1024;
  const round = (bytes: number) => Math.round((bytes / MiB) * 10) / 10;
  const peak = { rss: 0, heapTotal: 0, heapUsed: 0, external: 0, arrayBuffers: 0 };
  let atPeak: Record<string, number> = {};
  let samples = 0;
  const sample = () => {
    samples++;
    const m = process.memoryUsage();
    for (const k of Object.keys(peak) as Array<keyof typeof peak>) {
      peak[k] = Math.max(peak[k], m[k]);
    }
    if (m.rss >= peak.rss) {
      const spaces: Record<string, number> = {};
      for (const s of getHeapSpaceStatistics()) spaces[s.space_name] = round(s.space_size);
      const h = getHeapStatistics();
      atPeak = {
        rss: round(m.rss),
        heapTotal: round(m.heapTotal),
        heapUsed: round(m.heapUsed),
        external: round(m.external),
        arrayBuffers: round(m.arrayBuffers),
        mallocedMemory: round(h.malloced_memory),
        peakMallocedMemory: round(h.peak_malloced_memory),
        ...Object.fromEntries(Object.entries(spaces).map(([k, v]) => [`space.${k}`, v])),
      };
    }
  };
  setInterval(sample, 50).unref();
  let session: Session | undefined;
  if (process.env.BENCH_HEAP_SAMPLING === 'promoted') {
    session = new Session();
    session.connect();
    session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: false,
    });
  }
  process.on('exit', () => {
    sample();
    session?.post('HeapProfiler.stopSampling', (err, result) => {
      if (err === null) {
        writeFileSync(join(dir, `${process.pid}.heapprofile`), JSON.stringify(result.profile));
      }
    });
    writeFileSync(
      join(dir, `${process.pid}.json`),
      JSON.stringify({
        pid: process.pid,
        samples,
        execArgv: process.execArgv,
        // Node's type stripper loaded: the compile cache missed a TypeScript file.
        typeStripper: (process as unknown as { moduleLoadList: string[] }).moduleLoadList.some(
          (m) => m.includes('amaro'),
        ),
        peakMiB: Object.fromEntries(Object.entries(peak).map(([k, v]) => [k, round(v)])),
        atPeakRssMiB: atPeak,
      }),
    );
  });
}
