import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, pairKeys } from '@app/lock';
import { eventually, RedisServer, request, testAuthSecret, testInfra } from '@app/testing';
import type { KubeObject } from '../cluster/kube-api.js';
import { ClusterRun, isRunning } from '../support/cluster-run.js';
import type { SseClient } from '../support/sse-client.js';
import { createPairs, helloOf, Metrics, openStream, type Pair } from '../support/stream-stack.js';

// `npm run cluster` for real: etcd, kube-apiserver, kube-controller-manager, kube-scheduler, KWOK,
// Prometheus and prometheus-adapter on this machine, k8s/overlays/local applied server-side, pods
// that are real app processes. Slow by nature (minutes): the HPA controller, Prometheus scrapes
// and pod start-ups set the pace, so waits are generous and every one names what it waits for.

const ADMIN_TOKEN = 'cluster-e2e-admin-token-0123456789';
/** Not `npm run cluster`'s default (127.0.2.0/24), so the suite runs beside a developer's cluster. */
const POD_CIDR = '127.0.3.0/24';
/** Lock lease of the local overlay's ConfigMap (LOCK_TTL_MS): a key gone sooner was released, not expired. */
const LOCK_TTL_MS = 15_000;
const times: Array<[string, number]> = [];
const seconds = (since: number) => (performance.now() - since) / 1000;

const ready = (pod: KubeObject) =>
  !pod.metadata.deletionTimestamp &&
  (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const inPodCidr = (ip: string) => ip.startsWith(POD_CIDR.split('.').slice(0, 3).join('.') + '.');
const containerPort = (pod: KubeObject) => pod.spec.containers[0].ports[0].containerPort as number;

/** A Kubernetes quantity as a number ("13", "1500m", "2k"). */
function quantity(value: string): number {
  const match = /^([\d.]+)([numkMG]?)$/.exec(value);
  assert.ok(match, `not a quantity: ${value}`);
  const scale: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * scale[match[2]!]!;
}

/** Whether something accepts TCP connections on host:port. */
function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000, () => (socket.destroy(), resolve(false)));
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

describe('npm run cluster: k8s/overlays/local on a real control plane, HPAs scaling on real metrics', () => {
  let redis: RedisServer;
  let inspect: Redis;
  let cluster: ClusterRun;
  let pairs: Pair[];
  const clients: SseClient[] = [];
  /** Tests that ran to their end: the run directory (logs) is kept unless all did. */
  let passed = 0;

  const deployment = (name: string) => cluster.api.get(`/apis/apps/v1/namespaces/kubescaler/deployments/${name}`);
  const hpa = (name: string) =>
    cluster.api.get(`/apis/autoscaling/v2/namespaces/kubescaler/horizontalpodautoscalers/${name}`);
  const readyStreamPods = async () => (await cluster.pods('stream')).filter(ready);
  /** The stream Service and its ready pods, which must be `count`. */
  const streamTier = async (count: number) => {
    const pods = await readyStreamPods();
    assert.equal(pods.length, count, `ready stream pods: ${pods.map((pod) => pod.metadata.name).join(', ')}`);
    return { service: cluster.serviceUrl('stream'), pods };
  };
  const lockHeld = async (pair: Pair) => {
    const keys = pairKeys(pair.userId, pair.profileId);
    return (await inspect.exists(keys.lock, keys.launched)) > 0;
  };

  before(
    async () => {
      testInfra();
      redis = await RedisServer.start();
      inspect = createRedisClient(redis.url, { commandTimeoutMs: 2000, name: 'cluster-e2e' });
      await connectRedis(inspect);
      const secret = testAuthSecret();
      assert.ok(secret, 'AUTH_JWT_SECRET of the test run');
      cluster = await ClusterRun.start(
        {
          CLUSTER_NAME: `e2e-${process.pid}`,
          CLUSTER_POD_CIDR: POD_CIDR,
          REDIS_URL: redis.url,
          ADMIN_TOKEN,
          AUTH_JWT_SECRET: secret,
        },
        900_000,
      );
      times.push([
        'npm run cluster: start to both HPAs with real targets',
        (cluster.readyAt - cluster.startedAt) / 1000,
      ]);
      for (const { step, seconds: at } of cluster.state.timings)
        times.push([`  ${step} (since the cluster's own start)`, at]);
      pairs = await createPairs(cluster.serviceUrl('base'), 16);
    },
    { timeout: 960_000 },
  );

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    if (cluster && cluster.child.exitCode === null && cluster.child.signalCode === null) await cluster.stop();
    if (inspect) await closeRedis(inspect);
    await redis?.dispose();
    if (cluster && passed === 6) rmSync(cluster.state.logs, { recursive: true, force: true });
    else if (cluster) console.log(`cluster logs kept in ${cluster.state.logs}`);
    console.log(
      `cluster e2e times:\n${times.map(([what, s]) => `  ${s.toFixed(1).padStart(7)} s  ${what}`).join('\n')}`,
    );
  });

  it('applies k8s/overlays/local with server-side apply after a server-side dry run accepted every object', async () => {
    const manifests = path.join(cluster.state.logs, 'manifests');
    const objects = readFileSync(path.join(manifests, 'rendered.yaml'), 'utf8').match(/^kind: /gm) ?? [];
    const dryRun = readFileSync(path.join(manifests, 'apply-dry-run.txt'), 'utf8').trim().split('\n');
    const applied = readFileSync(path.join(manifests, 'apply.txt'), 'utf8').trim().split('\n');
    assert.ok(objects.length > 30, `rendered ${objects.length} objects`);
    assert.equal(dryRun.length, objects.length);
    assert.ok(
      dryRun.every((line) => line.endsWith('serverside-applied (server dry run)')),
      dryRun.join('\n'),
    );
    assert.equal(applied.length, objects.length);
    assert.ok(
      applied.every((line) => line.endsWith('serverside-applied')),
      applied.join('\n'),
    );
    // What the overlay says is what the API server holds.
    const adapter = await cluster.api.get('/api/v1/namespaces/kubescaler/services/prometheus-adapter');
    assert.equal(adapter.spec.type, 'ExternalName');
    assert.equal(adapter.spec.externalName, 'localhost');
    const namespace = await cluster.api.get('/api/v1/namespaces/kubescaler');
    assert.equal(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const version = await cluster.kubectl('version', '-o', 'json');
    assert.equal(version.code, 0, version.stderr);
    assert.equal(JSON.parse(version.stdout).serverVersion.gitVersion, 'v1.33.13');
    passed += 1;
  });

  it('runs every base, main and stream pod as a real process on its pod IP and container port, Ready by /health/ready', async () => {
    for (const app of ['base', 'main', 'stream']) {
      const pods = await cluster.pods(app);
      assert.equal(pods.length, 1, `${app}: ${pods.map((p) => p.metadata.name)}`);
      const [pod] = pods as [KubeObject];
      assert.ok(ready(pod), `${app} pod is Ready`);
      assert.equal(pod.spec.nodeName, 'kwok-node-0');
      assert.ok(inPodCidr(pod.status.podIP), `${app} pod IP ${pod.status.podIP} is in ${POD_CIDR}`);
      assert.ok(pod.status.containerStatuses[0].state.running, JSON.stringify(pod.status.containerStatuses));
      assert.equal(pod.status.initContainerStatuses[0].state.terminated?.reason, 'Completed', 'the init container ran');
      const url = `http://${pod.status.podIP}:${containerPort(pod)}`;
      const health = await request(url, 'GET', '/health/ready');
      assert.equal(health.status, 200, `${app} at ${url}: ${JSON.stringify(health.body)}`);
    }
    // The migration Job's pod ran node apps/base/dist/migrate.js to completion.
    const job = await cluster.api.get('/apis/batch/v1/namespaces/kubescaler/jobs/migrate');
    assert.equal(job.status.succeeded, 1);
    // The stream pod's process has the pod's environment: its name from the downward API.
    const [streamPod] = await readyStreamPods();
    const client = await openStream(cluster.serviceUrl('stream'), pairs[15]!);
    assert.equal(helloOf(client).pod, streamPod!.metadata.name);
    await client.close();
    await eventually(async () => assert.equal(await lockHeld(pairs[15]!), false), 5000);
    passed += 1;
  });

  it("reports current metrics in both HPAs: main's CPU as a percentage, stream's connections per pod", async () => {
    const main = await hpa('main');
    const utilization = main.status.currentMetrics[0].resource.current.averageUtilization;
    assert.equal(typeof utilization, 'number');
    const stream = await hpa('stream');
    assert.equal(quantity(stream.status.currentMetrics[0].pods.current.averageValue), 0);
    const table = await cluster.kubectl('get', 'hpa', '-n', 'kubescaler');
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^main\s+Deployment\/main\s+cpu: \d+%\/80%\s+1\s+3\s+1\s/m);
    assert.match(table.stdout, /^stream\s+Deployment\/stream\s+\d+\/5\s+1\s+5\s+1\s/m);
    assert.doesNotMatch(table.stdout, /<unknown>/);
    // The printed table is the same kind: real targets, no <unknown>.
    assert.match(cluster.output(), /^KUBECONFIG=\/.*\.kubeconfig$/m);
    assert.match(cluster.output(), /^main\s+Deployment\/main\s+cpu: \d+%\/80%/m);
    // metrics.k8s.io from prometheus-adapter's resource rules: main's own process CPU.
    const raw = await cluster.kubectl('get', '--raw', '/apis/metrics.k8s.io/v1beta1/namespaces/kubescaler/pods');
    assert.equal(raw.code, 0, raw.stderr);
    const mainPod = JSON.parse(raw.stdout).items.find((item: any) => item.metadata.name.startsWith('main-'));
    assert.ok(mainPod, raw.stdout);
    assert.equal(mainPod.containers[0].name, 'main');
    assert.ok(quantity(mainPod.containers[0].usage.cpu) > 0, `main uses CPU: ${mainPod.containers[0].usage.cpu}`);
    passed += 1;
  });

  it(
    'grows stream to 3 ready replicas on 12 streams; their processes answer, later streams land on the new pods, the custom metrics API has the gauge per pod',
    { timeout: 420_000 },
    async (t) => {
      const { service, pods: podsBefore } = await streamTier(1);
      const [first] = podsBefore;
      const started = performance.now();
      for (const pair of pairs.slice(0, 12)) {
        const client = await openStream(service, pair);
        clients.push(client);
        assert.equal(helloOf(client).pod, first.metadata.name, 'one stream pod so far');
      }
      await eventually(
        async () => {
          const status = (await deployment('stream')).status;
          assert.deepEqual({ replicas: status.replicas, ready: status.readyReplicas }, { replicas: 3, ready: 3 });
        },
        300_000,
        1000,
      );
      times.push(['12 streams opened → stream Deployment at 3 ready replicas', seconds(started)]);
      t.diagnostic(`scaled up to 3 ready replicas in ${seconds(started).toFixed(1)} s`);

      const { pods } = await streamTier(3);
      for (const pod of pods) {
        const url = `http://${pod.status.podIP}:${containerPort(pod)}`;
        assert.ok(inPodCidr(pod.status.podIP));
        assert.equal((await request(url, 'GET', '/health/ready')).status, 200, `${pod.metadata.name} at ${url}`);
        const metrics = await Metrics.scrape(url);
        assert.equal(metrics.active, pod.metadata.name === first.metadata.name ? 12 : 0, pod.metadata.name);
      }
      const scaled = await hpa('stream');
      assert.equal(scaled.status.desiredReplicas, 3);

      // Re-applying the overlay never resets a scale the HPA owns.
      const rendered = path.join(cluster.state.logs, 'manifests', 'rendered.yaml');
      for (const extra of [['--dry-run=server'], []]) {
        const apply = await cluster.kubectl(
          'apply',
          '--server-side',
          '--field-manager=kubescaler-local',
          '-f',
          rendered,
          ...extra,
        );
        assert.equal(apply.code, 0, apply.stderr);
      }
      assert.equal((await deployment('stream')).spec.replicas, 3);

      // The Service (round robin over Ready pods) now hands new streams to every pod, the new ones too.
      const later: SseClient[] = [];
      for (const pair of pairs.slice(12, 15)) later.push(await openStream(service, pair));
      clients.push(...later);
      assert.deepEqual(
        later.map((client) => helloOf(client).pod).sort(),
        pods.map((pod) => pod.metadata.name).sort(),
        'one later stream on each pod',
      );

      await eventually(
        async () => {
          const raw = await cluster.kubectl(
            'get',
            '--raw',
            '/apis/custom.metrics.k8s.io/v1beta1/namespaces/kubescaler/pods/*/stream_active_connections',
          );
          assert.equal(raw.code, 0, raw.stderr);
          const perPod = Object.fromEntries(
            JSON.parse(raw.stdout).items.map((item: any) => [item.describedObject.name, quantity(item.value)]),
          );
          assert.deepEqual(
            perPod,
            Object.fromEntries(
              pods.map((pod) => [pod.metadata.name, pod.metadata.name === first.metadata.name ? 13 : 1]),
            ),
          );
        },
        90_000,
        2000,
      );
      passed += 1;
    },
  );

  it(
    "scales stream back to 1 when streams close; the removed pods' clients receive reconnect and their locks are released",
    { timeout: 420_000 },
    async (t) => {
      const { service, pods } = await streamTier(3);
      // One stream stays on every pod, so whichever pods go still hold a stream when they go.
      const kept = clients.slice(12, 15).map((client, index) => {
        const pair = pairs[12 + index]!;
        // From the moment the pod says reconnect: how long until its lock and launched record are gone.
        const release = client.waitForEvent('reconnect', 400_000).then(
          async (event) => {
            await eventually(async () => assert.equal(await lockHeld(pair), false), LOCK_TTL_MS / 3, 100);
            return performance.now() - event.at;
          },
          () => undefined,
        );
        return { pod: helloOf(client).pod, client, pair, release };
      });
      assert.equal(new Set(kept.map((k) => k.pod)).size, 3);
      const started = performance.now();
      await Promise.all(clients.slice(0, 12).map((client) => client.close()));
      /** When this test first saw each pod terminating (polled every second). */
      const deleting = new Map<string, number>();
      await eventually(
        async () => {
          const all = await cluster.pods('stream');
          for (const pod of all)
            if (pod.metadata.deletionTimestamp && !deleting.has(pod.metadata.name))
              deleting.set(pod.metadata.name, performance.now());
          assert.equal((await deployment('stream')).spec.replicas, 1);
          assert.equal(all.length, 1, `stream pods: ${all.map((p) => p.metadata.name).join(', ')}`);
          assert.ok(ready(all[0]!));
        },
        300_000,
        250,
      );
      times.push(['streams closed to 3 (one per pod) → stream Deployment back at 1 pod', seconds(started)]);
      t.diagnostic(`scaled down to 1 replica in ${seconds(started).toFixed(1)} s`);

      const [survivor] = await cluster.pods('stream');
      const removed = kept.filter((k) => k.pod !== survivor!.metadata.name);
      assert.equal(removed.length, 2);
      for (const { pod: name, client, pair, release } of removed) {
        assert.ok(client.eventNames().includes('reconnect'), `${name}'s client received reconnect`);
        // SIGTERM (and so reconnect) only after the pod's preStop sleep of 5 s (the poll may see the deletion late).
        const reconnectAt = client.events.find((event) => event.event === 'reconnect')!.at;
        const sinceDeletion = reconnectAt - deleting.get(name)!;
        assert.ok(
          sinceDeletion > 3500 && sinceDeletion < 40_000,
          `${name}: reconnect ${sinceDeletion.toFixed(0)} ms after its deletion`,
        );
        await client.waitForClose(10_000);
        const pod = pods.find((p) => p.metadata.name === name)!;
        assert.equal(await listening(pod.status.podIP, containerPort(pod)), false, `${name}'s process is gone`);
        const afterMs = await release;
        assert.ok(
          afterMs !== undefined && afterMs < LOCK_TTL_MS / 2,
          `lock released ${afterMs?.toFixed(0)} ms after reconnect, well inside its lease`,
        );
        // Released, not waiting out its lease: the pair opens again at once, on the surviving pod.
        const again = await openStream(service, pair);
        clients.push(again);
        assert.equal(helloOf(again).pod, survivor!.metadata.name);
      }
      const survivorClient = kept.find((k) => k.pod === survivor!.metadata.name)!.client;
      const before = survivorClient.messages;
      await survivorClient.waitUntil(
        () => survivorClient.messages > before,
        10_000,
        'more messages on the surviving pod',
      );
      assert.ok(!survivorClient.eventNames().includes('reconnect'));
      assert.equal((await hpa('stream')).status.desiredReplicas, 1);
      passed += 1;
    },
  );

  it(
    'stops everything it started on SIGTERM: every process below it exits, streams drain with reconnect',
    { timeout: 240_000 },
    async (t) => {
      const pids = cluster.descendants();
      assert.ok(pids.length >= 10, `processes below npm run cluster: ${pids.length}`);
      const pods = [
        ...(await cluster.pods('base')),
        ...(await cluster.pods('main')),
        ...(await cluster.pods('stream')),
      ];
      const open = clients.filter((client) => !client.isClosed);
      const stopped = await cluster.stop();
      times.push(['SIGTERM → npm run cluster exited', stopped.seconds]);
      t.diagnostic(`stopped in ${stopped.seconds.toFixed(1)} s`);
      assert.equal(stopped.code, 143, cluster.output().slice(-3000));
      assert.deepEqual(pids.filter(isRunning), [], 'no process it started is left');
      for (const pod of pods) assert.equal(await listening(pod.status.podIP, containerPort(pod)), false);
      for (const client of open) {
        await client.waitForClose(5000);
        assert.ok(client.eventNames().includes('reconnect'), 'a draining stream says reconnect');
      }
      assert.deepEqual(await inspect.keys('kubescaler:lock:*'), [], 'every lock released');
      passed += 1;
    },
  );
});
