import { parseArgs } from 'node:util';
import type { App, RouteInfo } from '../app/app.ts';
import type { CompiledRoute } from '../app/route.ts';
import { EXIT } from '../server/exit-codes.ts';
import { unknownOptionMessage } from '../server/settings/resolve.ts';
import { loadApp, loadFailure } from '../server/worker/load-app.ts';
import { isTypeScript, rerunWithStripTypes, stripsTypes } from './typescript.ts';

const HELP = `Usage: peregrine routes [--json] MODULE[:EXPORT]

Prints the routes of the App that MODULE exports: every method with its resource and responder,
the path converters, hooks, schemas and middleware (app-wide, then per route).

  --json      print JSON instead of a table
  -h, --help  show this help
`;

/** One method of one route, as printed. */
export interface RouteRow {
  method: string;
  template: string;
  resource: string;
  responder: string;
  converters: Record<string, string>;
  hooks: { before: number; after: number };
  schema: boolean;
  middleware: string[];
}

function nameOf(value: unknown): string {
  const ctor = (value as { constructor?: { name?: string } } | null)?.constructor;
  return ctor?.name && ctor.name !== 'Object' ? ctor.name : 'anonymous';
}

function convertersOf(route: CompiledRoute | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const segment of route?.parsed.segments ?? []) {
    const fields =
      segment.kind === 'complex'
        ? segment.fields
        : segment.kind === 'literal'
          ? []
          : [segment.field];
    for (const f of fields) {
      if (f.spec !== '') out[f.name] = f.spec.replace(/\(\)$/, '');
      else if (segment.kind === 'path') out[f.name] = 'path';
    }
  }
  return out;
}

/** The rows `peregrine routes` prints for an App. */
export function routeRows(app: App): RouteRow[] {
  const compiled = new Map<string, CompiledRoute>();
  for (const r of (app as { compiledRoutes?: readonly CompiledRoute[] }).compiledRoutes ?? []) {
    compiled.set(r.template, r);
  }
  return app.describeRoutes().flatMap((route: RouteInfo) =>
    route.methods.map((m) => ({
      method: m.method,
      template: route.template,
      resource: route.resource,
      responder: m.responder,
      converters: convertersOf(compiled.get(route.template)),
      hooks: { before: m.before, after: m.after },
      schema: m.schema,
      middleware: route.middleware,
    })),
  );
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Renders the routes as a table. */
export function renderRoutes(app: App): string {
  const rows = routeRows(app);
  const appMiddleware = app.middleware.map(nameOf);
  const head = `App middleware: ${appMiddleware.length > 0 ? appMiddleware.join(' → ') : 'none'}`;
  if (rows.length === 0) return `${head}\nNo routes.\n`;
  const body = table([
    ['METHOD', 'ROUTE', 'RESPONDER', 'CONVERTERS', 'HOOKS', 'SCHEMA', 'MIDDLEWARE'],
    ...rows.map((r) => [
      r.method,
      r.template,
      `${r.resource}.${r.responder}`,
      Object.entries(r.converters)
        .map(([k, v]) => `${k}:${v}`)
        .join(' ') || '-',
      r.hooks.before + r.hooks.after > 0 ? `${r.hooks.before} before, ${r.hooks.after} after` : '-',
      r.schema ? 'yes' : '-',
      r.middleware.join(' → ') || '-',
    ]),
  ]);
  return `${head}\n\n${body}\n`;
}

/** `peregrine routes MODULE[:EXPORT]`: resolves to the exit code. */
export async function routesCommand(argv: readonly string[]): Promise<number> {
  let parsed: ReturnType<
    typeof parseArgs<{
      options: { json: { type: 'boolean' }; help: { type: 'boolean'; short: 'h' } };
      allowPositionals: true;
      args: string[];
    }>
  >;
  const options = { json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;
  try {
    parsed = parseArgs({ args: [...argv], options, allowPositionals: true });
  } catch (err) {
    const message = unknownOptionMessage(err, options) ?? (err as Error).message;
    process.stderr.write(`peregrine routes: ${message}\n\n${HELP}`);
    return EXIT.USAGE;
  }
  if (parsed.values.help) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  const spec = parsed.positionals[0];
  if (spec === undefined || parsed.positionals.length > 1) {
    process.stderr.write(`peregrine routes: one MODULE expected\n\n${HELP}`);
    return EXIT.USAGE;
  }
  if (isTypeScript(spec) && !stripsTypes()) return rerunWithStripTypes();
  let app: App;
  try {
    app = await loadApp(spec);
  } catch (err) {
    process.stderr.write(`peregrine routes: ${loadFailure(err)}\n`);
    return EXIT.APP_LOAD_ERROR;
  }
  if (parsed.values.json) {
    const out = { middleware: app.middleware.map(nameOf), routes: routeRows(app) };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  } else {
    process.stdout.write(renderRoutes(app));
  }
  return EXIT.OK;
}
