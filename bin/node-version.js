// Which Node versions Peregrine runs on, checked before anything else is imported. Plain
// JavaScript that any Node able to load an ES module parses (no TypeScript, no syntax newer than
// ES2020), because its whole job is to run on the Node that is too old for the rest.

/** Exit code of a refusal: like a bad command line, nothing was started (EXIT.USAGE). */
export const REFUSED = 2;

/** `v22.12.0`, `22.12`, `22` → [22, 12, 0]; null if it is not a version. */
function parse(text) {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(String(text).trim());
  return m === null ? null : [Number(m[1]), Number(m[2] || 0), Number(m[3] || 0)];
}

function compare(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

/** Whether `version` passes one comparator (`>=22.12`, `<25`, `^24.1`, `~22.12`, `22.12.0`). */
function passes(version, comparator) {
  const m = /^(>=|<=|>|<|=|\^|~)?\s*(.+)$/.exec(comparator);
  const bound = m === null ? null : parse(m[2]);
  if (bound === null) throw new Error(`unsupported engines comparator "${comparator}"`);
  const c = compare(version, bound);
  switch (m[1]) {
    case '>=':
      return c >= 0;
    case '>':
      return c > 0;
    case '<=':
      return c <= 0;
    case '<':
      return c < 0;
    case '^':
      return c >= 0 && version[0] === bound[0];
    case '~':
      return c >= 0 && version[0] === bound[0] && version[1] === bound[1];
    default:
      return c === 0;
  }
}

/**
 * Whether `version` satisfies an `engines.node` range: alternatives joined by `||`, each a list
 * of comparators that must all pass. Throws on a range this small reader does not understand.
 */
export function satisfies(version, range) {
  const v = parse(version);
  if (v === null) throw new Error(`not a Node version: "${version}"`);
  return range.split('||').some((alternative) =>
    alternative
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1')
      .split(/\s+/)
      .every((comparator) => passes(v, comparator)),
  );
}

/**
 * What to print when this Node cannot run Peregrine, or null when it can: the version found and
 * where, the version needed, and how to get it for the command that was asked for.
 */
export function refusal(found, range, context) {
  if (satisfies(found, range)) return null;
  const lines = [
    `peregrine: Node.js ${found} (${context.execPath}) cannot run peregrine ${context.version}: it needs Node.js ${range}.`,
    'Nothing was started.',
    '',
  ];
  const args = context.args;
  if (args[0] === 'new') {
    lines.push(
      'Create the project with Node 24 (npx fetches both; the project then pins Node 24 itself):',
      '  npx -p node@24 -p peregrine peregrine new my-service',
    );
  } else {
    lines.push(
      'Pin Node 24 in your project; npm scripts and npx then run it instead of this one:',
      '  npm i -D node@24',
      `  npx peregrine ${args.length === 0 ? 'serve app.ts' : args.join(' ')}`,
    );
  }
  lines.push('Or install Node.js 24 LTS for the whole machine: https://nodejs.org/en/download', '');
  return lines.join('\n');
}
