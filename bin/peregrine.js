#!/usr/bin/env node
// The command is a thin launcher: the CLI lives in the package (src/cli) and is built to dist/cli.
// This file stays plain JavaScript with nothing imported before the Node version check, so an
// unsupported Node gets a clear refusal rather than a syntax error or a crash-looping worker.
import { readFileSync } from 'node:fs';
import module from 'node:module';
import { REFUSED, refusal } from './node-version.js';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const refused = refusal(process.versions.node, pkg.engines.node, {
  args: process.argv.slice(2),
  execPath: process.execPath,
  version: pkg.version,
});
if (refused !== null) {
  process.stderr.write(refused);
  process.exitCode = REFUSED;
} else {
  // PERF: V8's on-disk code cache (Node's default directory, or $NODE_COMPILE_CACHE) for the CLI
  // and the master, as workers already have: a warm start compiles nothing. Node < 22.1 has none.
  if (process.env.NODE_DISABLE_COMPILE_CACHE === undefined) module.enableCompileCache?.();
  import('peregrine/cli')
    .then(({ main }) => main(process.argv.slice(2)))
    .then((code) => {
      process.exitCode = code;
    });
}
