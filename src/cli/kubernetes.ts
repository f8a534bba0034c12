import { stringify } from 'yaml';
import type { ServerSettings, SettingKey, SettingSources } from '../server/settings/all.ts';
import { SETTINGS } from '../server/settings/all.ts';
import { configValue, describeValue } from '../server/settings/resolve.ts';
import { envName } from '../server/settings/setting.ts';

/** What the manifests need besides the server settings. */
export interface KubernetesOptions {
  /** The name of the Deployment, Service, PDB and HPA, and the `app.kubernetes.io/name` label. */
  name: string;
  /** The container image. */
  image: string;
  /** `MODULE[:EXPORT]` inside the image. */
  app: string;
  /** Pods the HPA keeps at least (and the PDB protects). */
  minReplicas: number;
  /** Pods the HPA adds at most. */
  maxReplicas: number;
  /** The HPA's CPU target, percent of the request. */
  cpuUtilization: number;
  /** The HPA's requests-per-second target per pod. */
  requestsPerSecond: number;
  /** Memory per worker, MiB (the limit is this × workers + 128 for the master). */
  memoryPerWorker: number;
}

/** The port the Service exposes. */
export const SERVICE_PORT = 80;
/** Seconds added to drain delay + graceful timeout for the grace period (the master's own exit). */
export const GRACE_MARGIN = 5;
/** The custom metric the Prometheus Adapter rule serves and the HPA reads. */
export const REQUESTS_METRIC = 'http_server_requests_per_second';
/** The counter of Peregrine's `/metrics` the rule is computed from. */
export const REQUESTS_SERIES = 'http_server_request_duration_seconds_count';

/** One generated file. */
export interface Manifest {
  /** File name in the output folder. */
  file: string;
  /** The object (a Kubernetes resource, or the adapter's Helm values). */
  body: Record<string, unknown>;
}

/** Settings the manifests set themselves (listening addresses) or cannot carry (files, the module). */
const NOT_MIRRORED: ReadonlySet<SettingKey> = new Set([
  'bind',
  'admin',
  'adminToken',
  'app',
  'config',
  'pid',
]);

function port(address: ServerSettings['bind'][number] | null, fallback: number): number {
  return address !== null && 'port' in address && address.port !== 0 ? address.port : fallback;
}

/** The CPU the pod gets: one core per worker (the most workers with `--workers auto`). */
export function workerCount(settings: ServerSettings): number {
  if (settings.workers !== 'auto') return settings.workers;
  if (settings.maxWorkers === 0) {
    throw new Error('--workers auto needs --max-workers here: it sets the pod’s CPU');
  }
  return settings.maxWorkers;
}

/** The environment of the container: listening addresses, then every setting not at its default. */
function containerEnv(
  settings: ServerSettings,
  sources: SettingSources,
  ports: { http: number; admin: number },
  name: string,
): Array<{ name: string; value: string } | { name: string; valueFrom: Record<string, unknown> }> {
  const env: Array<
    { name: string; value: string } | { name: string; valueFrom: Record<string, unknown> }
  > = [
    { name: envName('bind'), value: `0.0.0.0:${ports.http}` },
    // The kubelet's probes and Prometheus come from outside the pod.
    { name: envName('admin'), value: `0.0.0.0:${ports.admin}` },
    // Off loopback the dashboard and /api/* need a token (the master refuses to start without
    // one): from a Secret the operator creates, never in the manifest.
    {
      name: envName('admin-token'),
      valueFrom: { secretKeyRef: { name: `${name}-admin`, key: 'token' } },
    },
  ];
  const always: SettingKey[] = ['workers', 'drainDelay', 'gracefulTimeout'];
  for (const key of Object.keys(SETTINGS) as SettingKey[]) {
    if (NOT_MIRRORED.has(key)) continue;
    if (!always.includes(key) && sources[key] === 'default') continue;
    const value = configValue(key, settings[key]);
    if (value === null) continue;
    env.push({ name: envName(SETTINGS[key].name), value: describeValue(key, settings[key]) });
  }
  return env;
}

/** The manifests for one service: Deployment, Service, PodDisruptionBudget, HPA, adapter rule. */
export function kubernetesManifests(
  settings: ServerSettings,
  sources: SettingSources,
  o: KubernetesOptions,
): Manifest[] {
  const workers = workerCount(settings);
  const ports = { http: port(settings.bind[0] ?? null, 8000), admin: port(settings.admin, 9464) };
  const labels = { 'app.kubernetes.io/name': o.name };
  const grace = Math.ceil(settings.drainDelay + settings.gracefulTimeout + GRACE_MARGIN);
  const memory = `${workers * o.memoryPerWorker + 128}Mi`;
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: o.name, labels },
    spec: {
      // No `replicas`: the HPA owns the count (an apply would reset it otherwise).
      selector: { matchLabels: labels },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels,
          annotations: {
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(ports.admin),
            'prometheus.io/path': '/metrics',
          },
        },
        spec: {
          // > drain delay + graceful timeout: the master drains and exits before the kubelet kills.
          terminationGracePeriodSeconds: grace,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [
            {
              name: o.name,
              image: o.image,
              // Exec form: the master is PID 1 and gets TERM itself (no shell, no npm between).
              command: ['node', 'node_modules/.bin/peregrine', 'serve', o.app],
              env: containerEnv(settings, sources, ports, o.name),
              ports: [
                { name: 'http', containerPort: ports.http, protocol: 'TCP' },
                { name: 'admin', containerPort: ports.admin, protocol: 'TCP' },
              ],
              // Ready only while workers are ready and the App's checks pass; 503 from TERM on.
              readinessProbe: {
                httpGet: { path: '/readyz', port: 'admin' },
                periodSeconds: 2,
                failureThreshold: 2,
                timeoutSeconds: 1,
              },
              // The master alone: the watchdog replaces stuck workers without a restart.
              livenessProbe: {
                httpGet: { path: '/healthz', port: 'admin' },
                periodSeconds: 10,
                failureThreshold: 3,
                timeoutSeconds: 2,
              },
              resources: {
                requests: { cpu: String(workers), memory },
                limits: { cpu: String(workers), memory },
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                capabilities: { drop: ['ALL'] },
              },
            },
          ],
        },
      },
    },
  };
  const service = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: o.name, labels },
    spec: {
      type: 'ClusterIP',
      selector: labels,
      ports: [{ name: 'http', port: SERVICE_PORT, targetPort: 'http', protocol: 'TCP' }],
    },
  };
  const pdb = {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: o.name, labels },
    spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
  };
  // One HPA with both metrics: it scales to the larger of the two proposals. Two HPAs on one
  // Deployment would fight over its replica count.
  const hpa = {
    apiVersion: 'autoscaling/v2',
    kind: 'HorizontalPodAutoscaler',
    metadata: { name: o.name, labels },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: o.name },
      minReplicas: o.minReplicas,
      maxReplicas: o.maxReplicas,
      metrics: [
        {
          type: 'Resource',
          resource: {
            name: 'cpu',
            target: { type: 'Utilization', averageUtilization: o.cpuUtilization },
          },
        },
        {
          type: 'Pods',
          pods: {
            metric: { name: REQUESTS_METRIC },
            target: { type: 'AverageValue', averageValue: String(o.requestsPerSecond) },
          },
        },
      ],
      behavior: {
        scaleUp: {
          stabilizationWindowSeconds: 0,
          policies: [{ type: 'Percent', value: 100, periodSeconds: 15 }],
        },
        // One pod a minute at most: each removal drains for up to the grace period.
        scaleDown: {
          stabilizationWindowSeconds: 300,
          policies: [{ type: 'Pods', value: 1, periodSeconds: 60 }],
        },
      },
    },
  };
  // Helm values for the prometheus-community/prometheus-adapter chart: the rule that turns
  // Peregrine's request counter into the per-pod rate the HPA reads.
  const adapter = {
    rules: {
      default: false,
      custom: [
        {
          seriesQuery: `${REQUESTS_SERIES}{namespace!="",pod!=""}`,
          resources: {
            overrides: { namespace: { resource: 'namespace' }, pod: { resource: 'pod' } },
          },
          name: { matches: `^${REQUESTS_SERIES}$`, as: REQUESTS_METRIC },
          metricsQuery: 'sum(rate(<<.Series>>{<<.LabelMatchers>>}[1m])) by (<<.GroupBy>>)',
        },
      ],
    },
  };
  return [
    { file: 'deployment.yaml', body: deployment },
    { file: 'service.yaml', body: service },
    { file: 'pdb.yaml', body: pdb },
    { file: 'hpa.yaml', body: hpa },
    { file: 'prometheus-adapter/values.yaml', body: adapter },
  ];
}

/** A manifest as the file's text: a header naming the command that made it, then YAML. */
export function renderManifest(m: Manifest, command: string): string {
  const header = [
    `# Generated by \`${command}\`.`,
    '# Change the command and run it again rather than editing this file by hand.',
  ];
  return `${header.join('\n')}\n${stringify(m.body, { lineWidth: 0, aliasDuplicateObjects: false })}`;
}
