import { type SettingKey, settingList } from './all.ts';
import { ENVIRONMENT_VARIABLES } from './environment.ts';
import { describeValue } from './resolve.ts';
import { camelName, envName, type Setting } from './setting.ts';

function defaultText(key: SettingKey, s: Setting): string {
  if (s.defaultDoc !== undefined) return s.defaultDoc;
  return `\`${describeValue(key, s.default({}))}\``;
}

function flagText(s: Setting): string {
  const long = s.kind === 'boolean' ? `--[no-]${s.name}` : `--${s.name} ${s.meta ?? 'VALUE'}`;
  return s.short === undefined ? long : `-${s.short}, ${long}`;
}

function firstSentence(text: string): string {
  const m = /^(.*?[.!?])(\s|$)/s.exec(text);
  return (m?.[1] ?? text).replaceAll('`', '');
}

function sections(): Map<string, Array<[SettingKey, Setting]>> {
  const bySection = new Map<string, Array<[SettingKey, Setting]>>();
  for (const entry of settingList()) {
    const list = bySection.get(entry[1].section) ?? [];
    list.push(entry);
    bySection.set(entry[1].section, list);
  }
  return bySection;
}

/** docs/settings.md, generated from the declarations (a test keeps the file in step). */
export function renderSettingsDoc(): string {
  const out: string[] = [
    '# Settings reference',
    '',
    '<!-- Generated from src/server/settings/ by `npm run docs:settings`; do not edit by hand. -->',
    '',
    'Every setting of `peregrine serve` can be given four ways; a later one wins:',
    '',
    '1. its default;',
    '2. a config file (`--config FILE`: JSON, or a JS/TS module exporting an object), keys in',
    '   camelCase or kebab-case;',
    '3. an environment variable `PEREGRINE_<NAME>`;',
    '4. the command-line flag.',
    '',
    'Durations are in seconds (`0.5`, `500ms` and `2m` also work), except where the value is',
    'shown as `MS`: those take a whole number of milliseconds, without a unit. Sizes are in bytes',
    '(`16k`, `1MiB` also work), booleans accept `true/false`, `1/0`, `yes/no`, `on/off`. Lists',
    'are comma-separated, or the flag is repeated. `peregrine serve --print-config` prints the',
    'resolved settings as a config file; `--check-config` validates them and loads the App.',
    '',
  ];
  for (const [section, entries] of sections()) {
    out.push(`## ${section}`, '');
    for (const [key, s] of entries) {
      out.push(`### \`${flagText(s)}\``, '');
      const facts = [
        `env \`${envName(s.name)}\``,
        `config \`${camelName(s.name)}\``,
        `default ${defaultText(key, s)}`,
      ];
      if (s.choices !== undefined) {
        facts.push(`one of ${s.choices.map((c) => `\`${c}\``).join(', ')}`);
      }
      if (s.masterOnly) facts.push('needs a restart (a reload keeps the old value)');
      out.push(`${facts.join(' · ')}`, '', s.doc, '');
    }
  }
  out.push(
    '## Environment only',
    '',
    'Read from the environment of `peregrine serve` and of a process that calls `serve()`; they',
    'have no flag or config key. The `OTEL_*` ones mean what the OpenTelemetry specification says.',
    '',
  );
  for (const v of ENVIRONMENT_VARIABLES) {
    out.push(`### \`${v.name}\``, '', `default ${v.defaultDoc}`, '', v.doc, '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

/** The `--help` text of `peregrine serve`. */
export function renderHelp(): string {
  const out: string[] = [
    'Usage: peregrine serve [options] MODULE[:EXPORT]',
    '',
    'Serves the App exported by MODULE (default export, or EXPORT) with a master process',
    'supervising N worker processes. Signals to the master: HUP reload, TTIN/TTOU one worker',
    'more/less, TERM graceful stop, INT/QUIT fast stop, USR1 reopen log files.',
    '',
    '  --print-config          print the resolved settings as a config file and exit',
    '  --check-config          validate the settings, load the App, and exit',
    '  -h, --help              show this help',
    '',
  ];
  for (const [section, entries] of sections()) {
    out.push(`${section}:`);
    for (const [key, s] of entries) {
      const flag = flagText(s);
      const pad = flag.length < 30 ? ' '.repeat(30 - flag.length) : `\n${' '.repeat(32)}`;
      const def = defaultText(key, s).replaceAll('`', '');
      // Every value an enum takes is listed: the doc's first sentence may name only some.
      const choices = s.choices === undefined ? '' : ` One of: ${s.choices.join(', ')}.`;
      out.push(`  ${flag}${pad}${firstSentence(s.doc)}${choices} [${def}]`);
    }
    out.push('');
  }
  out.push(
    'Every flag also reads from PEREGRINE_<NAME> and the config file; see docs/settings.md.',
  );
  return `${out.join('\n')}\n`;
}
