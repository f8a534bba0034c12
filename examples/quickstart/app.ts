// The README's quickstart, kept runnable (test/examples.test.ts exercises it).
import { App, HTTPNotFound, type Request, type Response, responder } from 'peregrine';
import { Type } from 'peregrine/schema';

class Greeting {
  onGet(req: Request, resp: Response, params: { name?: unknown }) {
    resp.media = { hello: params.name, lang: req.query.string('lang', { default: 'en' }) };
  }
}

class Notes {
  #notes = new Map<number, string>();
  onPost = responder(
    { body: Type.Object({ text: Type.String({ minLength: 1 }) }) },
    (req, resp) => {
      const id = this.#notes.size + 1;
      this.#notes.set(id, req.valid.body.text);
      resp.status = 201;
      resp.location = `/notes/${id}`;
      resp.media = { id };
    },
  );
  onGet(_req: Request, resp: Response, params: { id?: unknown }) {
    const text = this.#notes.get(params.id as number);
    if (text === undefined) throw new HTTPNotFound();
    resp.media = { text };
  }
}

const app = new App();
app.addRoute('/hello/{name}', new Greeting());
const notes = new Notes();
app.addRoute('/notes', notes);
app.addRoute('/notes/{id:int}', notes);
export default app;
