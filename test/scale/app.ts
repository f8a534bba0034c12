import { App, HTTPError, type Request, type Response } from 'peregrine';

// The service every node of the scale harness runs: hello-like routes, each answer naming the
// node that gave it (`x-node`, from the harness's SCALE_NODE), plus a templated route and one
// that fails on purpose so the fleet-wide RED queries have a route label and errors to count.
const app = new App();
const node = process.env.SCALE_NODE ?? 'unknown';

app.use({
  processResponse(_req: Request, resp: Response) {
    resp.setHeader('x-node', node);
  },
});

app.addRoute('/json', { onGet: () => ({ message: 'Hello, World!' }) });
app.addRoute('/plaintext', {
  onGet(_req: Request, resp: Response) {
    resp.text = 'Hello, World!';
  },
});
app.addRoute('/items/{id:int}', {
  onGet: (_req, _resp, params) => ({ id: params.id as number, node }),
});
app.addRoute('/fail', {
  onGet() {
    throw new HTTPError(500, { title: 'failing on purpose' });
  },
});

export default app;
