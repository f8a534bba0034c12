import { App } from 'peregrine';

/** The smallest Peregrine service: the two TechEmpower routes. */
const app = new App();

app.addRoute('/json', {
  onGet(_req, resp) {
    resp.media = { message: 'Hello, World!' };
  },
});

app.addRoute('/plaintext', {
  onGet(_req, resp) {
    resp.text = 'Hello, World!';
  },
});

export default app;
