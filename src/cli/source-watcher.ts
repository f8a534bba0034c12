import { type Dirent, type FSWatcher, readdirSync, statSync, watch } from 'node:fs';
import { extname, join } from 'node:path';

/** What counts as source: a change to one of these reloads the App. */
const SOURCE = new Set(['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs', '.json']);

/** Folders never watched: dependencies, and dot-folders (.git, editors' caches). */
function skipped(name: string): boolean {
  return name === 'node_modules' || name.startsWith('.');
}

/** Options of a SourceWatcher. */
export interface SourceWatcherOptions {
  /** Changes within this window are reported together (default 100 ms: editors save in steps). */
  debounceMs?: number;
  /** At most this many folders are watched (default 2,000); the rest are ignored. */
  maxFolders?: number;
}

/**
 * Watches the source files of a project for `peregrine dev`: every folder under the root except
 * node_modules and dot-folders, one non-recursive `fs.watch` each (so a large node_modules costs
 * nothing), reporting changes to .ts/.js/.json files only — the SQLite file, its WAL and log files
 * change on every request and must not reload anything. Folders created later are watched too.
 */
export class SourceWatcher {
  /** The folder watched. */
  readonly root: string;
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #onChange: (files: string[]) => void;
  readonly #debounceMs: number;
  readonly #maxFolders: number;
  #pending = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    root: string,
    onChange: (files: string[]) => void,
    options: SourceWatcherOptions = {},
  ) {
    this.root = root;
    this.#onChange = onChange;
    this.#debounceMs = options.debounceMs ?? 100;
    this.#maxFolders = options.maxFolders ?? 2000;
    this.#add(root);
  }

  /** How many folders are watched. */
  get folders(): number {
    return this.#watchers.size;
  }

  #add(dir: string): void {
    if (this.#closed || this.#watchers.has(dir) || this.#watchers.size >= this.#maxFolders) return;
    let watcher: FSWatcher;
    try {
      if (!statSync(dir).isDirectory()) return;
      watcher = watch(dir, (_event, name) => this.#changed(dir, name));
    } catch {
      return; // gone already, or not readable: nothing to watch
    }
    watcher.on('error', () => this.#remove(dir));
    this.#watchers.set(dir, watcher);
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) if (e.isDirectory() && !skipped(e.name)) this.#add(join(dir, e.name));
  }

  #remove(dir: string): void {
    this.#watchers.get(dir)?.close();
    this.#watchers.delete(dir);
  }

  #changed(dir: string, name: string | Buffer | null): void {
    if (this.#closed || name === null) return;
    const file = join(dir, String(name));
    const base = String(name).split('/').pop() ?? '';
    if (skipped(base)) return;
    if (!SOURCE.has(extname(file))) {
      // A new folder (or one renamed into place) may hold sources: watch it.
      if (extname(file) === '') this.#add(file);
      return;
    }
    this.#pending.add(file);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const files = [...this.#pending].sort();
      this.#pending = new Set();
      this.#onChange(files);
    }, this.#debounceMs);
  }

  /** Stops watching. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }
}
