/**
 * Builds the dashboard UI (src/dashboard/ui, TypeScript + Preact/htm + uPlot) into static files
 * in dist/dashboard-ui/: app.js, app.css, index.html. Offline: nothing is loaded from elsewhere.
 * `npm run build` runs it (so `npm install` in a checkout and `npm pack` both have the UI).
 */
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, 'dist', 'dashboard-ui');

mkdirSync(OUT, { recursive: true });
await build({
  entryPoints: { app: join(ROOT, 'src/dashboard/ui/main.ts') },
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome110', 'firefox110', 'safari16'],
  outdir: OUT,
  legalComments: 'eof',
  logLevel: 'warning',
});
writeFileSync(
  join(OUT, 'index.html'),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="peregrine-api" content="api">
<title>Peregrine</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="dashboard/app.css">
<script type="module" src="dashboard/app.js"></script>
</head>
<body><div id="app"></div></body>
</html>
`,
);
let gz = 0;
for (const f of ['index.html', 'app.js', 'app.css']) {
  const body = readFileSync(join(OUT, f));
  gz += gzipSync(body, { level: 9 }).byteLength;
  console.log(`${f.padEnd(11)} ${String(statSync(join(OUT, f)).size).padStart(7)} B`);
}
console.log(`dashboard UI: ${(gz / 1024).toFixed(1)} KiB gzipped`);
