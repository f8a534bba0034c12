import { App, HTTPNotFound, type Request, type Response, responder } from 'peregrine';
import { type Database, openDatabase } from 'peregrine/db';
import { Type } from 'peregrine/schema';
import { migrate } from './migrations.ts';

/** A note, as stored and as the API returns it. */
interface Note {
  id: number;
  text: string;
  created_at: string;
}

/**
 * `/notes` and `/notes/{id}`. Notes live in the database, never in a Map on the resource:
 * `peregrine serve` runs one worker process per core, and memory is per worker.
 */
class Notes {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** GET /notes?limit=20: the latest notes first. */
  async onGetCollection(req: Request, resp: Response) {
    const limit = req.query.int('limit', { default: 20, min: 1, max: 100 });
    const { rows } = await this.#db.query<Note>(
      'SELECT id, text, created_at FROM notes ORDER BY id DESC LIMIT $1',
      [limit],
      { req },
    );
    resp.media = { notes: rows };
  }

  /** POST /notes {"text": "…"}: 201 with the note and its Location. */
  onPostCollection = responder(
    { body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 2000 }) }) },
    async (req, resp) => {
      const note = await this.#db.one<Note>(
        'INSERT INTO notes (text, created_at) VALUES ($1, $2) RETURNING id, text, created_at',
        [req.valid.body.text, new Date().toISOString()],
        { req },
      );
      resp.status = 201;
      resp.location = `/notes/${note!.id}`;
      resp.media = note;
    },
  );

  /** GET /notes/{id} */
  async onGet(req: Request, resp: Response, params: { id?: unknown }) {
    const note = await this.#db.one<Note>(
      'SELECT id, text, created_at FROM notes WHERE id = $1',
      [params.id],
      { req },
    );
    if (note === undefined) throw new HTTPNotFound({ detail: `No note ${params.id}.` });
    resp.media = note;
  }

  /** DELETE /notes/{id}: 204, or 404 if there was none. */
  async onDelete(req: Request, resp: Response, params: { id?: unknown }) {
    const { rowCount } = await this.#db.query('DELETE FROM notes WHERE id = $1', [params.id], {
      req,
    });
    if (rowCount === 0) throw new HTTPNotFound({ detail: `No note ${params.id}.` });
    resp.status = 204;
  }
}

/** Where the App keeps its data. */
export interface AppOptions {
  /**
   * `postgres://…` for PostgreSQL, else a SQLite file or `:memory:`. Default: `$DATABASE_URL`,
   * else `./data/app.db` — one file every worker of the machine shares.
   */
  database?: string;
}

/** Builds the App; tests call it with their own database. */
export function createApp(options: AppOptions = {}): App {
  const app = new App();
  const url = options.database ?? process.env.DATABASE_URL ?? 'sqlite:./data/app.db';
  // install(): opened when the server starts the App, closed after the last request, and a
  // readiness check on /readyz. The migration runs right after the database opens.
  const db = openDatabase(url, { name: 'app' }).install(app);
  app.onStartup(() => migrate(db));
  const notes = new Notes(db);
  app.addRoute('/notes', notes, { suffix: 'collection' });
  app.addRoute('/notes/{id:int(min=1)}', notes);
  return app;
}

/** What `peregrine serve app.ts` serves. */
export default createApp();
