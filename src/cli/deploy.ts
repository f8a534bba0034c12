import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { EXIT } from '../server/exit-codes.ts';
import { type SettingKey, settingList } from '../server/settings/all.ts';
import {
  type CliValues,
  resolveSettings,
  settingOptions,
  unknownOptionMessage,
} from '../server/settings/resolve.ts';
import { parseInteger } from '../server/settings/setting.ts';
import { type KubernetesOptions, kubernetesManifests, renderManifest } from './kubernetes.ts';

const HELP = `Usage: peregrine deploy kubernetes [options] [serve settings] MODULE[:EXPORT]

Writes Kubernetes manifests for serving MODULE (its path inside the image) with the given
settings of peregrine serve (--workers, --drain-delay, --graceful-timeout, --bind, --admin, …):
deployment.yaml, service.yaml, pdb.yaml, hpa.yaml (autoscaling/v2, CPU and requests/s per pod)
and prometheus-adapter/values.yaml (the rule that serves requests/s to the HPA). The numbers
that must agree (grace period, CPU, ports, probes, env) are computed from the same settings.

  --out DIR                  write the files there (default: print them to stdout)
  --name NAME                resource name and app.kubernetes.io/name label [api]
  --image IMAGE              container image [registry.example/api:latest]
  --min-replicas N           fewest pods (the HPA's minimum) [2]
  --max-replicas N           most pods [10]
  --cpu-utilization PERCENT  the HPA's CPU target, % of the request [70]
  --requests-per-second N    the HPA's requests/s target per pod [500]
  --memory-per-worker MIB    memory per worker; the limit adds 128 MiB for the master
                             [--max-memory + 64, or 256]
  -h, --help                 show this help
`;

const OWN: ParseArgsOptionsConfig = {
  out: { type: 'string' },
  name: { type: 'string' },
  image: { type: 'string' },
  'min-replicas': { type: 'string' },
  'max-replicas': { type: 'string' },
  'cpu-utilization': { type: 'string' },
  'requests-per-second': { type: 'string' },
  'memory-per-worker': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

function fail(message: string): number {
  process.stderr.write(`peregrine deploy: ${message}\n`);
  return EXIT.USAGE;
}

function count(values: Record<string, unknown>, name: string, fallback: number, min = 1): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = parseInteger(String(raw));
  if (n < min) throw new Error(`--${name} must be at least ${min}`);
  return n;
}

/** `peregrine deploy kubernetes …`: resolves to the exit code. */
export async function deployCommand(argv: readonly string[]): Promise<number> {
  const [target, ...rest] = argv;
  if (target === undefined || target === '-h' || target === '--help') {
    process.stdout.write(HELP);
    return target === undefined ? EXIT.USAGE : EXIT.OK;
  }
  if (target !== 'kubernetes') return fail(`unknown target "${target}" (only: kubernetes)`);
  const options = { ...settingOptions(), ...OWN };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...rest],
      options,
      allowPositionals: true,
      allowNegative: true,
    });
  } catch (err) {
    return fail(unknownOptionMessage(err, options) ?? (err as Error).message);
  }
  const values = parsed.values as Record<string, unknown>;
  if (values.help === true) {
    process.stdout.write(HELP);
    return EXIT.OK;
  }
  if (parsed.positionals.length !== 1) {
    return fail('one MODULE expected (its path inside the image, e.g. dist/app.js)');
  }
  const cli: CliValues = {};
  const byName = new Map(settingList().map(([key, s]) => [s.name, key] as [string, SettingKey]));
  for (const [name, value] of Object.entries(values)) {
    const key = byName.get(name);
    if (key !== undefined) cli[key] = value as string | string[] | boolean;
  }
  if (cli.config !== undefined) {
    return fail(
      '--config is not read here: give the settings as flags, so they are in the manifest',
    );
  }
  try {
    const { settings, sources } = await resolveSettings({ cli, env: {} });
    if (sources.workers === 'default') {
      // Its default is this machine's cores, which says nothing about the pod's.
      return fail('give --workers N (the pod gets N CPUs), or --workers auto --max-workers N');
    }
    const o: KubernetesOptions = {
      name: typeof values.name === 'string' ? values.name : 'api',
      image: typeof values.image === 'string' ? values.image : 'registry.example/api:latest',
      app: parsed.positionals[0]!,
      minReplicas: count(values, 'min-replicas', 2),
      maxReplicas: count(values, 'max-replicas', 10),
      cpuUtilization: count(values, 'cpu-utilization', 70),
      requestsPerSecond: count(values, 'requests-per-second', 500),
      memoryPerWorker: count(
        values,
        'memory-per-worker',
        settings.maxMemory > 0 ? settings.maxMemory + 64 : 256,
        32,
      ),
    };
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(o.name) || o.name.length > 63) {
      return fail(`--name "${o.name}" is not a DNS label (lower case, digits, -; at most 63)`);
    }
    if (o.maxReplicas < o.minReplicas)
      return fail('--max-replicas must not be below --min-replicas');
    if (o.cpuUtilization > 100) return fail('--cpu-utilization is a percentage (1–100)');
    if (settings.drainDelay === 0) {
      process.stderr.write(
        'peregrine deploy: warning: --drain-delay 0: pods stop taking connections before every endpoint knows; 5–10 s is usual\n',
      );
    }
    const manifests = kubernetesManifests(settings, sources, o);
    const command = ['peregrine', 'deploy', 'kubernetes', ...rest]
      .filter(
        (arg, i, all) => arg !== '--out' && all[i - 1] !== '--out' && !arg.startsWith('--out='),
      )
      .join(' ');
    const out = typeof values.out === 'string' ? values.out : undefined;
    for (const m of manifests) {
      const text = renderManifest(m, command);
      if (out === undefined) {
        process.stdout.write(`---\n# ${m.file}\n${text}`);
      } else {
        const file = join(out, m.file);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, text);
      }
    }
    if (out !== undefined) {
      process.stderr.write(`wrote ${manifests.map((m) => join(out, m.file)).join(', ')}\n`);
    }
    return EXIT.OK;
  } catch (err) {
    return fail((err as Error).message);
  }
}
