#!/usr/bin/env node
// The command is a thin launcher: the CLI lives in the package (src/cli) and is built to dist/cli.
const { main } = await import('peregrine/cli');
process.exitCode = await main(process.argv.slice(2));
