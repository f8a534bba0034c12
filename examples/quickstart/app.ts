// app.ts (also examples/quickstart/app.ts)
import { App, HTTPNotFound, type Request, type Response, responder } from 'peregrine';
import { openDatabase } from 'peregrine/db';
import { Type } from 'peregrine/schema';

const app = new App();
// Every worker is its own process with its own memory: notes kept in a Map would differ from
// worker to worker and vanish on restart. They live in the database every worker shares:
// $DATABASE_URL, or by default the SQLite file ./data/peregrine.db.
const db = openDatabase().install(app);
app.onStartup(async () => {
  const id = db.dialect === 'sqlite' ? 'integer PRIMARY KEY' : 'serial PRIMARY KEY';
  await db.query(`CREATE TABLE IF NOT EXISTS notes (id ${id}, text text NOT NULL)`);
});

class Greeting {
  onGet(req: Request, resp: Response, params: { name?: unknown }) {
    resp.media = { hello: params.name, lang: req.query.string('lang', { default: 'en' }) };
  }
}

class Notes {
  // /notes: the collection (routed with suffix 'collection').
  async onGetCollection(req: Request, resp: Response) {
    resp.media = (await db.query('SELECT id, text FROM notes ORDER BY id', [], { req })).rows;
  }
  onPostCollection = responder(
    { body: Type.Object({ text: Type.String({ minLength: 1 }) }) },
    async (req, resp) => {
      const note = await db.one<{ id: number }>(
        'INSERT INTO notes (text) VALUES ($1) RETURNING id',
        [req.valid.body.text],
        { req },
      );
      resp.status = 201;
      resp.location = `/notes/${note!.id}`;
      resp.media = note;
    },
  );
  // /notes/{id}: one note.
  async onGet(req: Request, resp: Response, params: { id?: unknown }) {
    const note = await db.one('SELECT id, text FROM notes WHERE id = $1', [params.id], { req });
    if (note === undefined) throw new HTTPNotFound();
    resp.media = note;
  }
}

app.addRoute('/hello/{name}', new Greeting());
const notes = new Notes();
app.addRoute('/notes', notes, { suffix: 'collection' });
app.addRoute('/notes/{id:int}', notes);
export default app;
