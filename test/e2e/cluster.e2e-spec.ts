import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import { closeRedis, connectRedis, createRedisClient, pairKeys } from '@app/lock';
import { addServiceUrl, eventually, REPO_ROOT, request, testAuthSecret } from '@app/testing';
import type { KubeObject } from '../../scripts/cluster/dist/kube-api.js';
import { runCommand } from '../k8s/rendered-manifests.js';
import { ClusterRun, isRunning } from '../support/cluster-run.js';
import type { SseClient } from '../support/sse-client.js';
import { createPairs, helloOf, Metrics, openStream, type Pair } from '../support/stream-stack.js';

// `npm run cluster` for real: a one-node Kubernetes on this machine — control plane, containerd +
// runc, the kubelet and kube-proxy, CoreDNS, metrics-server — with k8s/overlays/local applied
// server-side and every pod (the apps, Cassandra, Redis, Prometheus, the adapter) in a real
// container of an image built here. Slow by nature (minutes): the HPA controller, Prometheus
// scrapes and pod start-ups set the pace, so waits are generous and each names what it waits for.

const ADMIN_TOKEN = 'cluster-e2e-admin-token-0123456789';
/** Lock lease of the base ConfigMap (LOCK_TTL_MS): a key gone sooner was released, not expired. */
const LOCK_TTL_MS = 15_000;
const NAMESPACE = 'kubescaler';
/** Streams the scale-up test may open while it looks for each new stream pod (pairs 20 and on). */
const EXTRA_TRIES = 30;
const times: Array<[string, number]> = [];
const seconds = (since: number) => (performance.now() - since) / 1000;

const ready = (pod: KubeObject) =>
  !pod.metadata.deletionTimestamp &&
  (pod.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const containerPort = (pod: KubeObject) => pod.spec.containers[0].ports[0].containerPort as number;

/** A Kubernetes quantity as a number ("13", "1500m", "2k"). */
function quantity(value: string): number {
  const match = /^([\d.]+)([numkMG]?)$/.exec(value);
  assert.ok(match, `not a quantity: ${value}`);
  const scale: Record<string, number> = { n: 1e-9, u: 1e-6, m: 1e-3, '': 1, k: 1e3, M: 1e6, G: 1e9 };
  return Number(match[1]) * scale[match[2]!]!;
}

/** Whether `ip` lies in the /24 `cidr`. */
const inCidr = (ip: string, cidr: string) => ip.startsWith(`${cidr.split('.').slice(0, 3).join('.')}.`);

describe('npm run cluster: k8s/overlays/local on a real one-node Kubernetes, every pod in a container', () => {
  let inspect: Redis;
  let cluster: ClusterRun;
  let pairs: Pair[];
  const clients: SseClient[] = [];
  /** Tests that ran to their end: the run directory (logs) is kept unless all did. */
  let passed = 0;
  const TESTS = 9;

  const api = () => cluster.api;
  const deployment = (name: string) => api().get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`);
  const hpa = (name: string) =>
    api().get(`/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers/${name}`);
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
  /** `kubectl exec` into a pod's first container; the command's output. */
  const exec = async (pod: string, ...command: string[]) => {
    const result = await cluster.kubectl('exec', '-n', NAMESPACE, pod, '--', ...command);
    return result;
  };

  before(
    async () => {
      const secret = testAuthSecret();
      assert.ok(secret, 'AUTH_JWT_SECRET of the test run');
      cluster = await ClusterRun.start(
        { CLUSTER_NAME: `e2e-${process.pid}`, ADMIN_TOKEN, AUTH_JWT_SECRET: secret },
        1_500_000,
      );
      times.push([
        'npm run cluster: start to both HPAs with real targets',
        (cluster.readyAt - cluster.startedAt) / 1000,
      ]);
      for (const { step, seconds: at } of cluster.state.timings)
        times.push([`  ${step} (since the cluster's own start)`, at]);
      // The in-cluster Redis (the lock server), through its Service's ClusterIP.
      inspect = createRedisClient(`redis://${cluster.serviceUrl('redis-a').slice('http://'.length)}`, {
        commandTimeoutMs: 2000,
        name: 'cluster-e2e',
      });
      await connectRedis(inspect);
      // base asks for the service credential: the run's INTERNAL_TOKEN, which the cluster was given.
      addServiceUrl(cluster.serviceUrl('base'));
      pairs = await createPairs(cluster.serviceUrl('base'), 20 + EXTRA_TRIES);
    },
    { timeout: 1_560_000 },
  );

  after(async () => {
    await Promise.all(clients.map((client) => client.close()));
    if (cluster && cluster.child.exitCode === null && cluster.child.signalCode === null) await cluster.stop();
    if (inspect) await closeRedis(inspect).catch(() => {});
    if (cluster && passed === TESTS) rmSync(cluster.state.logs, { recursive: true, force: true });
    else if (cluster) console.log(`cluster logs kept in ${cluster.state.logs}`);
    console.log(
      `cluster e2e times:\n${times.map(([what, s]) => `  ${s.toFixed(1).padStart(7)} s  ${what}`).join('\n')}`,
    );
  });

  it('applies the thin k8s/overlays/local server-side after a server-side dry run accepted every object', async () => {
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
    // Everything the base declares runs: the data tier and monitoring are the base's own workloads.
    for (const [kind, name] of [
      ['statefulsets', 'cassandra'],
      ['statefulsets', 'redis-a'],
      ['deployments', 'prometheus'],
      ['deployments', 'prometheus-adapter'],
    ] as const) {
      const object = await api().get(`/apis/apps/v1/namespaces/${NAMESPACE}/${kind}/${name}`);
      assert.equal(object.status.readyReplicas, 1, `${kind}/${name}`);
    }
    const namespace = await api().get(`/api/v1/namespaces/${NAMESPACE}`);
    assert.equal(namespace.metadata.labels['pod-security.kubernetes.io/enforce'], 'restricted');
    const version = await cluster.kubectl('version', '-o', 'json');
    assert.equal(version.code, 0, version.stderr);
    assert.equal(JSON.parse(version.stdout).serverVersion.gitVersion, 'v1.33.13');
    // One cluster per machine: a second run refuses, whatever its name, and changes nothing.
    const second = await runCommand(process.execPath, ['scripts/cluster.mjs'], {
      cwd: REPO_ROOT,
      env: { ...process.env, CLUSTER_NAME: 'second' },
      timeoutMs: 120_000,
    });
    assert.equal(second.code, 1, second.stdout + second.stderr);
    assert.match(second.stderr, /a local cluster is already running on this machine \(pid \d+/);
    assert.equal((await api().get(`/api/v1/nodes`)).items.length, 1, 'the running cluster is untouched');
    passed += 1;
  });

  it('runs every pod in a real container on the real node: pod IPs on the bridge, volumes bound, the image as uid 1000 on a read-only root with cgroup limits', async () => {
    const { network } = cluster.state;
    const [node] = (await api().get('/api/v1/nodes')).items as KubeObject[];
    assert.ok(node, 'one node');
    assert.equal(node.status.nodeInfo.kubeletVersion, 'v1.33.13');
    assert.match(node.status.nodeInfo.containerRuntimeVersion, /^containerd:\/\/1\./);
    assert.equal(node.status.addresses.find((a: any) => a.type === 'InternalIP').address, network.nodeIp);
    assert.deepEqual(node.spec.taints ?? [], [], 'no taint keeps pods off the node');

    const pods = (await api().get(`/api/v1/namespaces/${NAMESPACE}/pods`)).items as KubeObject[];
    const running = pods.filter((pod) => pod.status.phase === 'Running');
    const names = running.map((pod) => pod.metadata.labels?.['app.kubernetes.io/name']).sort();
    assert.deepEqual(
      [...new Set(names)],
      ['base', 'cassandra', 'main', 'prometheus', 'prometheus-adapter', 'redis', 'stream'],
      'every workload of the overlay runs a pod',
    );
    for (const pod of running) {
      assert.ok(ready(pod), `${pod.metadata.name} is Ready`);
      assert.equal(pod.spec.nodeName, node.metadata.name);
      assert.ok(inCidr(pod.status.podIP, network.podCidr), `${pod.metadata.name}: ${pod.status.podIP}`);
      for (const status of pod.status.containerStatuses) assert.match(status.containerID, /^containerd:\/\//);
    }
    const job = await api().get(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/migrate`);
    assert.equal(job.status.succeeded, 1, 'the migration Job ran node apps/base/dist/migrate.js to completion');
    const claims = (await api().get(`/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`)).items as KubeObject[];
    assert.deepEqual(claims.map((c) => [c.metadata.name, c.status.phase]).sort(), [
      ['data-cassandra-0', 'Bound'],
      ['data-redis-a-0', 'Bound'],
    ]);

    const [stream] = await readyStreamPods();
    const name = stream!.metadata.name;
    const uid = await exec(name, 'node', '-e', 'console.log(process.getuid(), process.getgid())');
    assert.equal(uid.code, 0, uid.stderr);
    assert.equal(uid.stdout.trim(), '1000 1000');
    const write = await exec(name, 'node', '-e', "require('fs').writeFileSync('/app/probe', 'x')");
    assert.notEqual(write.code, 0);
    assert.match(write.stderr, /EROFS|read-only/);
    // The native socket addon was built into the image (TCP_NOTSENT_LOWAT on every SSE socket).
    const metrics = await Metrics.scrape(`http://${stream!.status.podIP}:${containerPort(stream!)}`);
    assert.equal(metrics.value('stream_socket_notsent_lowat_applied'), 1);
    // The container's memory limit is its cgroup's, as the kubelet set it.
    const limit = stream!.spec.containers[0].resources.limits.memory as string;
    const cgroup = await exec(name, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes');
    assert.equal(cgroup.code, 0, cgroup.stderr);
    assert.equal(Number(cgroup.stdout.trim()), Number(limit.replace(/Mi$/, '')) * 1024 * 1024, `limit ${limit}`);

    const logs = await cluster.kubectl('logs', '-n', NAMESPACE, name, '-c', 'stream', '--tail=200');
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /listening|started/i);
    const top = await cluster.kubectl('top', 'pods', '-n', NAMESPACE);
    assert.equal(top.code, 0, top.stderr);
    assert.match(top.stdout, new RegExp(`^${name}\\s+\\d+m\\s+\\d+Mi`, 'm'));
    passed += 1;
  });

  it('resolves Service names inside pods through CoreDNS, and nothing outside the cluster', async () => {
    const [main] = (await cluster.pods('main')).filter(ready);
    const lookup = (name: string) =>
      exec(
        main!.metadata.name,
        'node',
        '-e',
        `require('dns').promises.lookup(${JSON.stringify(name)}).then((a) => console.log(a.address), (e) => { console.log(e.code); process.exit(3); })`,
      );
    const base = await lookup('base');
    assert.equal(base.code, 0, base.stdout + base.stderr);
    assert.equal(base.stdout.trim(), cluster.serviceUrl('base').slice('http://'.length).split(':')[0]);
    const [cassandra] = await cluster.pods('cassandra');
    const peer = await lookup('cassandra-0.cassandra-peers');
    assert.equal(peer.stdout.trim(), cassandra!.status.podIP, 'a headless Service names its pod');
    const outside = await lookup('example.com');
    assert.equal(outside.code, 3, `example.com must not resolve: ${outside.stdout}`);
    // main reaches base by its Service name (BASE_URL=http://base:3001) and Redis likewise.
    const login = await request(cluster.serviceUrl('main'), 'GET', `/main/login/${pairs[0]!.userId}`, {
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    passed += 1;
  });

  it("reports real targets in both HPAs: main's CPU from metrics-server, stream's connections from Prometheus", async () => {
    const main = await hpa('main');
    assert.equal(typeof main.status.currentMetrics[0].resource.current.averageUtilization, 'number');
    const stream = await hpa('stream');
    assert.equal(quantity(stream.status.currentMetrics[0].pods.current.averageValue), 0);
    const table = await cluster.kubectl('get', 'hpa', '-n', NAMESPACE);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^main\s+Deployment\/main\s+cpu: \d+%\/80%\s+1\s+3\s+1\s/m);
    assert.match(table.stdout, /^stream\s+Deployment\/stream\s+\d+\/5\s+1\s+5\s+1\s/m);
    assert.doesNotMatch(table.stdout, /<unknown>/);
    assert.match(cluster.output(), /^KUBECONFIG=\/.*\.kubeconfig$/m);
    assert.match(cluster.output(), /^main\s+Deployment\/main\s+cpu: \d+%\/80%/m);
    const service = await api().get('/apis/apiregistration.k8s.io/v1/apiservices/v1beta1.metrics.k8s.io');
    assert.deepEqual(service.spec.service, { name: 'metrics-server', namespace: 'kube-system', port: 443 });
    const raw = await cluster.kubectl('get', '--raw', `/apis/metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods`);
    assert.equal(raw.code, 0, raw.stderr);
    const mainPod = JSON.parse(raw.stdout).items.find((item: any) => item.metadata.name.startsWith('main-'));
    assert.ok(mainPod, raw.stdout);
    assert.ok(quantity(mainPod.containers.find((c: any) => c.name === 'main').usage.cpu) > 0);
    passed += 1;
  });

  it('serves the Ingresses with nginx: the web client, /main, streams unbuffered, /metrics refused', async () => {
    const ingress = cluster.state.ingress;
    assert.match(cluster.output(), new RegExp(`web client\\s+${ingress.replace(/[.]/g, '\\.')}/`));
    const page = await fetch(`${ingress}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    assert.equal((await fetch(`${ingress}/metrics`)).status, 403);
    assert.equal((await fetch(`${ingress}/health/ready`)).status, 403);
    const me = await request(ingress, 'GET', '/main/me');
    assert.equal(me.status, 401);
    const client = await openStream(ingress, pairs[19]!);
    await client.waitUntil(() => client.messages >= 2, 10_000, 'two events through the ingress');
    await client.close();
    await eventually(async () => assert.equal(await lockHeld(pairs[19]!), false), 5000);
    passed += 1;
  });

  it(
    'grows stream to 3 ready replicas on 12 streams; new streams land on the new pods; the custom metrics API has the gauge per pod',
    { timeout: 420_000 },
    async (t) => {
      const { service, pods: podsBefore } = await streamTier(1);
      const [first] = podsBefore;
      const started = performance.now();
      for (const pair of pairs.slice(0, 12)) {
        const client = await openStream(service, pair);
        clients.push(client);
        assert.equal(helloOf(client).pod, first!.metadata.name, 'one stream pod so far');
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
        const metrics = await Metrics.scrape(`http://${pod.status.podIP}:${containerPort(pod)}`);
        assert.equal(metrics.active, pod.metadata.name === first!.metadata.name ? 12 : 0, pod.metadata.name);
      }
      // kube-proxy picks an endpoint at random: streams are opened, one pair after another, until
      // each new pod holds one; a stream that lands where one is already counted is closed again,
      // so the tier stays at 14 streams (3 pods at a target of 5). 30 tries miss a new pod with a
      // probability of 2 * (2/3)^30 ≈ 1e-5.
      const newPods = pods.filter((pod) => pod.metadata.name !== first!.metadata.name).map((p) => p.metadata.name);
      const landed = new Map<string, number>();
      for (const pair of pairs.slice(20, 20 + EXTRA_TRIES)) {
        if (newPods.every((name) => landed.has(name))) break;
        const client = await openStream(service, pair);
        const pod = helloOf(client).pod;
        if (!newPods.includes(pod) || landed.has(pod)) {
          await client.close();
          await eventually(async () => assert.equal(await lockHeld(pair), false), 5000);
          continue;
        }
        clients.push(client);
        landed.set(pod, 1);
      }
      for (const name of newPods) assert.ok(landed.has(name), `a new stream landed on ${name}: ${[...landed.keys()]}`);

      await eventually(
        async () => {
          const raw = await cluster.kubectl(
            'get',
            '--raw',
            `/apis/custom.metrics.k8s.io/v1beta1/namespaces/${NAMESPACE}/pods/*/stream_active_connections`,
          );
          assert.equal(raw.code, 0, raw.stderr);
          const perPod = Object.fromEntries(
            JSON.parse(raw.stdout).items.map((item: any) => [item.describedObject.name, quantity(item.value)]),
          );
          assert.deepEqual(
            perPod,
            Object.fromEntries(
              pods.map((pod) => [
                pod.metadata.name,
                (pod.metadata.name === first!.metadata.name ? 12 : 0) + (landed.get(pod.metadata.name) ?? 0),
              ]),
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
      const open = clients.filter((client) => !client.isClosed);
      // One stream stays on every pod, so whichever pods go still hold a stream when they go.
      const kept = pods.map((pod) => {
        const client = open.find((c) => helloOf(c).pod === pod.metadata.name)!;
        const pair = pairs.find((p) => client.path.endsWith(`${p.userId}/${p.profileId}`))!;
        // How long after its reconnect the pair's lock was gone (undefined: no reconnect, or the
        // lock still held a third of a lease later). Only the removed pods' are asserted; the
        // survivor's stream says reconnect in a later test, whose reopened stream holds the pair.
        const release = client
          .waitForEvent('reconnect', 400_000)
          .then(async (event) => {
            await eventually(async () => assert.equal(await lockHeld(pair), false), LOCK_TTL_MS / 3, 100);
            return performance.now() - event.at;
          })
          .catch(() => undefined);
        return { pod: pod.metadata.name, client, pair, release };
      });
      const started = performance.now();
      await Promise.all(open.filter((c) => !kept.some((k) => k.client === c)).map((client) => client.close()));
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
        // The kubelet runs the preStop sleep (5 s), then SIGTERM: the stream ends with reconnect.
        const sinceDeletion = client.events.find((event) => event.event === 'reconnect')!.at - deleting.get(name)!;
        assert.ok(
          sinceDeletion > 3500 && sinceDeletion < 40_000,
          `${name}: reconnect ${sinceDeletion.toFixed(0)} ms after its deletion`,
        );
        await client.waitForClose(10_000);
        const afterMs = await release;
        assert.ok(
          afterMs !== undefined && afterMs < LOCK_TTL_MS / 2,
          `lock released ${afterMs?.toFixed(0)} ms after reconnect`,
        );
        const again = await openStream(service, pair);
        clients.push(again);
        assert.equal(helloOf(again).pod, survivor!.metadata.name);
      }
      passed += 1;
    },
  );

  it(
    "hands a deleted stream pod's clients over: preStop, SIGTERM, reconnect, locks released; the Deployment replaces the pod",
    { timeout: 240_000 },
    async () => {
      const { service, pods } = await streamTier(1);
      const [victim] = pods;
      const open = clients.filter((client) => !client.isClosed && helloOf(client).pod === victim!.metadata.name);
      assert.ok(open.length >= 1, 'a stream on the pod');
      const deletedAt = performance.now();
      await api().request('DELETE', `/api/v1/namespaces/${NAMESPACE}/pods/${victim!.metadata.name}`);
      for (const client of open) {
        const event = await client.waitForEvent('reconnect', 60_000);
        assert.ok(event.at - deletedAt > 3500, 'after the preStop sleep');
        await client.waitForClose(10_000);
      }
      await eventually(
        async () => {
          const replacement = (await readyStreamPods()).filter((p) => p.metadata.name !== victim!.metadata.name);
          assert.equal(replacement.length, 1);
        },
        120_000,
        500,
      );
      for (const client of open) {
        const pair = pairs.find((p) => client.path.endsWith(`${p.userId}/${p.profileId}`))!;
        assert.equal(await lockHeld(pair), false, 'released by the pod as it ended');
        clients.push(await openStream(service, pair));
      }
      times.push(['stream pod deleted → its clients reconnected, replacement Ready', seconds(deletedAt)]);
      passed += 1;
    },
  );

  it('restarts a container whose process is killed and counts it in restartCount', { timeout: 180_000 }, async () => {
    const [main] = (await cluster.pods('main')).filter(ready);
    const status = main!.status.containerStatuses.find((c: any) => c.name === 'main');
    const id = status.containerID.replace('containerd://', '');
    const killed = await cluster.ctr('tasks', 'kill', '--signal', 'SIGKILL', id);
    assert.equal(killed.code, 0, killed.stderr);
    await eventually(
      async () => {
        const pod = await api().get(`/api/v1/namespaces/${NAMESPACE}/pods/${main!.metadata.name}`);
        const after = pod.status.containerStatuses.find((c: any) => c.name === 'main');
        assert.equal(after.restartCount, status.restartCount + 1);
        assert.equal(after.lastState.terminated?.exitCode, 137);
        assert.ok(ready(pod));
      },
      120_000,
      500,
    );
    passed += 1;
  });

  it('stops everything on SIGTERM and leaves the machine as it was', { timeout: 300_000 }, async (t) => {
    const pids = cluster.descendants();
    assert.ok(pids.length >= 8, `processes below npm run cluster: ${pids.length}`);
    const open = clients.filter((client) => !client.isClosed);
    // While Redis still runs (the apps' pods end first), every lock goes.
    const locksGone = eventually(
      async () => assert.deepEqual(await inspect.keys('kubescaler:lock:*'), []),
      120_000,
      200,
    );
    const stopped = await cluster.stop(240_000);
    times.push(['SIGTERM → npm run cluster exited, host restored', stopped.seconds]);
    t.diagnostic(`stopped in ${stopped.seconds.toFixed(1)} s`);
    assert.equal(stopped.code, 143, cluster.output().slice(-3000));
    await locksGone;
    for (const client of open) {
      await client.waitForClose(5000);
      assert.ok(client.eventNames().includes('reconnect'), 'a draining stream says reconnect');
    }
    assert.deepEqual(pids.filter(isRunning), [], 'no process it started is left');
    const { network, containerdSocket } = cluster.state;
    const shims = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(containerdSocket);
        } catch {
          return false;
        }
      });
    assert.deepEqual(shims, [], 'no containerd shim is left');
    assert.equal(existsSync(`/sys/class/net/${network.bridge}`), false, 'the bridge is gone');
    assert.equal(existsSync('/sys/fs/cgroup/memory/kubescaler-cluster'), false, "the pods' cgroups are gone");
    assert.equal(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(), cluster.hostBefore.ipForward);
    assert.deepEqual(await cluster.ownChains(), cluster.hostBefore.chains, 'no KUBE-/CNI- iptables chain is left');
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8');
    assert.ok(!mounts.includes(cluster.state.logs), 'nothing mounted under the run directory');
    passed += 1;
  });
});
