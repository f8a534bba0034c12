import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { acquireLoadLock } from '../helpers/load-lock.ts';
import { eventually } from '../helpers/wait.ts';
import { type Nginx, startNginx } from './balancers.ts';
import { type Drive, drive, type Tally, tally } from './drive.ts';
import { canCreateNamespaces, Fleet } from './netns.ts';

// The same fleet behind nginx open source, run from deploy/nginx/nginx.conf. nginx OSS has only
// passive checks (it never reads /readyz): a node leaves the pool when a request to it fails and
// the request is retried on the next node (proxy_next_upstream), so what is asserted here is
// that clients see no error, not how soon a check notices.

const usable = canCreateNamespaces();
const CONNECTIONS = 12;
if (!usable && process.env.CI === 'true') {
  throw new Error('test/scale needs root and iproute2 (ip netns) under CI');
}

describe('nodes behind nginx (deploy/nginx/nginx.conf)', { skip: !usable }, () => {
  let fleet: Fleet;
  let lb: Nginx;
  let release: () => Promise<void>;
  const record: Record<string, unknown> = {};

  before(async () => {
    release = await acquireLoadLock();
    // No drain delay: nginx does not read /readyz, so waiting while not-ready buys nothing.
    fleet = new Fleet({ serveArgs: ['--workers', '1', '--drain-delay', '0'] });
    for (let i = 0; i < 3; i++) fleet.addNode();
    await Promise.all(fleet.nodes.map((n) => fleet.start(n)));
    lb = await startNginx({ dir: fleet.dir, servers: fleet.nodes });
  });

  after(async () => {
    process.stdout.write(`scale/nginx ${JSON.stringify(record)}\n`);
    await lb?.stop();
    await fleet?.close();
    await release?.();
  });

  function load(): Drive {
    return drive({ port: lb.port, connections: CONNECTIONS, maxMs: 90_000, pauseMs: 1 });
  }

  function summary(t: Tally) {
    return { sent: t.sent, errors: t.errors, non2xx: t.non2xx, byNode: t.byNode };
  }

  /** Upstream errors nginx logged for this node so far (refused, reset, timed out). */
  function upstreamFailures(address: string): number {
    return lb
      .log()
      .split('\n')
      .filter((l) => l.includes('[error]') && l.includes(`upstream: "http://${address}:`)).length;
  }

  async function pause(ms: number): Promise<void> {
    const from = Date.now();
    await eventually(() => Date.now() - from >= ms || undefined, ms + 5_000, 'load', 50);
  }

  test('a rolling restart of every node (TERM, wait, start) loses no request', async () => {
    const d = load();
    const started = Date.now();
    for (const node of fleet.nodes) {
      fleet.signal(node, 'SIGTERM');
      await fleet.exited(node);
      await fleet.start(node);
      // Until nginx has sent it a request again (its fail_timeout may still run).
      const back = Date.now();
      await eventually(
        () => (tally(d.shots, back).byNode[node.name] ?? 0) > 0 || undefined,
        15_000,
        `${node.name} takes traffic again`,
        50,
      );
    }
    const t = tally(await d.stop());
    record.rollingRestart = { ...summary(t), seconds: (Date.now() - started) / 1000 };
    assert.equal(t.errors, 0, JSON.stringify(t));
    assert.equal(t.non2xx, 0, JSON.stringify(t));
  });

  test('a rolling HUP reload of every node loses no request', async () => {
    const d = load();
    const started = Date.now();
    for (const node of fleet.nodes) {
      const from = node.logs.length;
      fleet.signal(node, 'SIGHUP');
      await eventually(
        () =>
          node.logs.slice(from).some((l) => String(l.msg).startsWith('reload complete')) ||
          undefined,
        30_000,
        `${node.name} reloaded`,
        50,
      );
    }
    const t = tally(await d.stop());
    record.rollingReload = { ...summary(t), seconds: (Date.now() - started) / 1000 };
    assert.equal(t.errors, 0, JSON.stringify(t));
    assert.equal(t.non2xx, 0, JSON.stringify(t));
  });

  test('a SIGKILLed node loses at most its in-flight requests; the rest go elsewhere', async () => {
    const node = fleet.nodes[2]!;
    const d = load();
    await eventually(() => tally(d.shots).byNode[node.name] !== undefined, 10_000, 'traffic');
    const inflight = d.inflight();
    const failuresBefore = upstreamFailures(node.address);
    fleet.signal(node, 'SIGKILL');
    await fleet.stop(node);
    await pause(3_000);
    const t = tally(await d.stop());
    // Passive checks: nginx learns that the node is dead from requests that fail on it (each
    // logged, then retried on the next node), and tries it again every fail_timeout (2 s) per
    // nginx worker.
    const attempts = upstreamFailures(node.address) - failuresBefore;
    record.sigkill = {
      ...summary(t),
      inflightAtKill: inflight,
      failedAttemptsIn3s: attempts,
    };
    assert.ok(t.errors + t.non2xx <= inflight, JSON.stringify({ t, inflight }));
    assert.ok(attempts >= 1, lb.log());
    await fleet.start(node);
  });

  test('a node whose link is cut costs no request; it is used again when the link is up', async () => {
    const node = fleet.nodes[1]!;
    const d = load();
    await eventually(() => tally(d.shots).byNode[node.name] !== undefined, 10_000, 'traffic');
    const inflight = d.inflight();
    const cutAt = Date.now();
    fleet.link(node, 'down');
    let restored = false;
    try {
      await pause(4_000);
      const during = tally(d.shots, cutAt + 1_500, Date.now());
      fleet.link(node, 'up');
      restored = true;
      const upAt = Date.now();
      await eventually(
        () => (tally(d.shots, upAt).byNode[node.name] ?? 0) > 0 || undefined,
        15_000,
        `${node.name} takes traffic again`,
        50,
      );
      const backMs = Date.now() - upAt;
      const t = tally(await d.stop());
      // Passive checks: every fail_timeout (2 s) nginx tries the node again with one request,
      // which waits proxy_connect_timeout (1 s) and then goes to another node.
      const slow = d.shots.filter((s) => s.start >= cutAt && s.end - s.start >= 900).length;
      record.linkCut = {
        ...summary(t),
        inflightAtCut: inflight,
        okWhileCut: during.ok,
        slowRequests: slow,
        backMs,
      };
      assert.ok(t.errors + t.non2xx <= inflight, JSON.stringify({ t, inflight }));
    } finally {
      if (!restored) fleet.link(node, 'up');
      await d.stop();
    }
  });

  // nginx adds a node by reloading: new workers start, the old ones close their idle client
  // keep-alive connections and exit. A client that sends on such a connection at that instant
  // sees it closed with no answer ("socket hang up"); HTTP/1.1 cannot announce the close, so
  // only a client that retries a request on a reused connection (browsers, Go's net/http) is
  // unaffected. Node's http.Agent does not retry, and this load counts what it sees: at most
  // one lost request per client connection, all at the reload. HAProxy's runtime API adds a
  // node with no reload and loses none (haproxy.test.ts).
  test('a node added under load by reloading nginx takes traffic within seconds', async () => {
    const node = fleet.addNode();
    await fleet.start(node);
    const d = load();
    await eventually(() => d.shots.length > 200 || undefined, 10_000, 'load running');
    const reloadedAt = Date.now();
    lb.reload(fleet.nodes);
    const first = await eventually(
      () => d.shots.find((s) => s.node === node.name),
      15_000,
      `${node.name} answers a request`,
      20,
    );
    await pause(2_000);
    const settled = first.end + 500;
    const t = tally(await d.stop());
    const late = tally(d.shots, settled);
    const share = (late.byNode[node.name] ?? 0) / late.ok;
    const lost = d.shots.filter((s) => s.error !== undefined);
    record.addNode = { ...summary(t), firstAnswerMs: first.end - reloadedAt, shareAfter: share };
    assert.ok(lost.length <= CONNECTIONS, JSON.stringify(t));
    for (const s of lost) {
      assert.match(s.error!, /socket hang up|ECONNRESET/);
      assert.ok(s.start >= reloadedAt && s.start - reloadedAt < 5_000, JSON.stringify(s));
    }
    assert.equal(t.non2xx, 0, JSON.stringify(t));
    assert.ok(first.end - reloadedAt < 10_000);
    assert.ok(share > 0.1, JSON.stringify(late));
  });
});
