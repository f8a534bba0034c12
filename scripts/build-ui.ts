/**
 * Builds the two UIs (TypeScript + Preact/htm + uPlot) into static files, offline (nothing is
 * loaded from elsewhere): the service dashboard (src/dashboard/ui → dist/dashboard-ui/, served by
 * `peregrine serve` at /dashboard) and `peregrine apm`'s pages (src/apm/ui, which reuses the
 * dashboard's modules → dist/apm-ui/, served by the apm at / and /apm). Each is app.js, app.css
 * and index.html. `npm run build` runs it (so `npm install` in a checkout and `npm pack` both
 * have the UIs).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Ui {
  /** Printed name. */
  name: string;
  entry: string;
  out: string;
  title: string;
  /** Where the page finds its files and its API (`<meta name="peregrine-api">`). */
  assets: string;
  api: string;
}

const UIS: Ui[] = [
  {
    name: 'dashboard UI',
    entry: 'src/dashboard/ui/main.ts',
    out: 'dist/dashboard-ui',
    title: 'Peregrine',
    assets: 'dashboard',
    api: 'api',
  },
  {
    name: 'apm UI',
    entry: 'src/apm/ui/main.ts',
    out: 'dist/apm-ui',
    title: 'Peregrine APM',
    // Absolute: the page is served at / and at /apm.
    assets: '/apm',
    api: '/api',
  },
];

for (const ui of UIS) {
  const out = join(ROOT, ui.out);
  mkdirSync(out, { recursive: true });
  await build({
    entryPoints: { app: join(ROOT, ui.entry) },
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
    outdir: out,
    legalComments: 'eof',
    logLevel: 'warning',
  });
  writeFileSync(
    join(out, 'index.html'),
    `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="peregrine-api" content="${ui.api}">
<title>${ui.title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ui.assets}/app.css">
<script type="module" src="${ui.assets}/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`,
  );
  let gz = 0;
  for (const f of ['index.html', 'app.js', 'app.css']) {
    const body = readFileSync(join(out, f));
    gz += gzipSync(body, { level: 9 }).byteLength;
    console.log(`${f.padEnd(11)} ${String(statSync(join(out, f)).size).padStart(7)} B`);
  }
  console.log(`${ui.name}: ${(gz / 1024).toFixed(1)} KiB gzipped`);
}
