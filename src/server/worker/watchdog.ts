import { Worker } from 'node:worker_threads';

/** A stack captured from a blocked event loop. */
export interface CapturedStack {
  /** When it was captured (ms since epoch). */
  capturedAt: number;
  /** How long the loop had been silent then, ms. */
  silentMs: number;
  /** `at fn (file:line:col)` lines, innermost first. */
  frames: string[];
}

// The thread's code, kept as CommonJS source so it runs the same from src/ and dist/. The main
// thread writes Date.now() into the shared slot on every loop turn it records; when the slot goes stale,
// the thread pauses the main thread through the inspector (which interrupts running JavaScript),
// records the call frames, resumes it, and writes them where the master will look.
const THREAD_SOURCE = `(function main() {
const { workerData } = require('node:worker_threads');
const { writeFileSync, renameSync } = require('node:fs');
const beat = new Float64Array(workerData.beat);
const { thresholdMs, outFile } = workerData;
let inspector;
try { inspector = require('node:inspector'); } catch { return; }
const session = new inspector.Session();
try { session.connectToMainThread(); } catch { return; }
let capturing = false;
let captured = false;
// Enabling the debugger replays every script's URL; frames name scripts only by id.
const urls = new Map();
session.on('Debugger.scriptParsed', (m) => { if (m.params.url) urls.set(m.params.scriptId, m.params.url); });
function capture(silentMs) {
  capturing = true;
  let done = false;
  const finish = () => {
    if (done) return;
    done = true;
    capturing = false;
    session.post('Debugger.disable', () => {});
  };
  const timer = setTimeout(finish, 2000);
  session.once('Debugger.paused', (message) => {
    const frames = message.params.callFrames.map((f) => {
      const where = (f.url || urls.get(f.location.scriptId) || '<anonymous>') + ':' + (f.location.lineNumber + 1) + ':' + (f.location.columnNumber + 1);
      return 'at ' + (f.functionName || '<anonymous>') + ' (' + where + ')';
    });
    session.post('Debugger.resume', () => {});
    try {
      const tmp = outFile + '.tmp';
      writeFileSync(tmp, JSON.stringify({ capturedAt: Date.now(), silentMs, frames }));
      renameSync(tmp, outFile);
    } catch {}
    clearTimeout(timer);
    finish();
  });
  session.post('Debugger.enable', (err) => {
    if (err) { clearTimeout(timer); finish(); return; }
    session.post('Debugger.pause', () => {});
  });
}
setInterval(() => {
  const silentMs = Date.now() - beat[0];
  if (silentMs < thresholdMs) { captured = false; return; }
  if (!captured && !capturing) { captured = true; capture(silentMs); }
}, Math.max(20, Math.min(250, thresholdMs / 10)));
})();
`;

/** The main thread's side of the watchdog: the beat it updates and the thread it started. */
export interface WatchdogThread {
  /** Records that the event loop turned at `at` (ms since the epoch). */
  beat(at: number): void;
  /** Stops the thread. */
  stop(): Promise<void>;
}

/**
 * Starts the thread that captures the main thread's stack once it has been silent for
 * `thresholdMs` (shortly before the master's watchdog kills the worker).
 */
export function startWatchdogThread(thresholdMs: number, outFile: string): WatchdogThread {
  const shared = new SharedArrayBuffer(8);
  const beat = new Float64Array(shared);
  beat[0] = Date.now();
  const thread = new Worker(THREAD_SOURCE, {
    eval: true,
    workerData: { beat: shared, thresholdMs, outFile },
    stdout: true,
    stderr: true,
    // The thread must not inherit --conditions or type stripping needs; it is plain CommonJS.
    execArgv: [],
  });
  thread.unref();
  thread.on('error', () => {
    // No inspector in this build, or the thread failed: the watchdog still kills, without a stack.
  });
  return {
    beat(at) {
      beat[0] = at;
    },
    async stop() {
      await thread.terminate();
    },
  };
}
