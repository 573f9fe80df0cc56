import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  ensureTools,
  generated,
  type K8sObject,
  named,
  ofKind,
  renderOverlays,
  type RenderedOverlay,
  runCommand,
  workload,
  workloads,
} from './rendered-manifests.js';

/** What k8s/overlays/local may change in a workload of the base: the image tag and never pulling it. */
const APP_WORKLOADS = ['base', 'main', 'stream', 'migrate'];
/** Names without the content hash of generated ConfigMaps and Secrets (the base references its Secrets unhashed). */
const unhash = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replace(/-[a-z0-9]{10}"/g, '"'));
const withoutImages = (podSpec: K8sObject): K8sObject => {
  const strip = (containers: K8sObject[] = []) =>
    containers.map(({ image: _image, imagePullPolicy: _policy, ...rest }) => rest);
  return { ...podSpec, containers: strip(podSpec.containers), initContainers: strip(podSpec.initContainers) };
};

describe('k8s/overlays/local (the local cluster), rendered and validated offline', () => {
  let local: RenderedOverlay;
  let base: K8sObject[];
  const baseObject = (kind: string, name: string) => {
    const found = base.find((o) => o.kind === kind && o.metadata.name === name);
    assert.ok(found, `k8s/base has no ${kind}/${name}`);
    return found;
  };

  before(
    async () => {
      const tools = await ensureTools();
      [local] = await renderOverlays(tools, ['local']);
      const built = await runCommand(tools.kustomize, ['build', 'k8s/base']);
      assert.equal(built.code, 0, built.stderr);
      base = parseAllDocuments(built.stdout).map((doc) => doc.toJS());
    },
    { timeout: 15 * 60_000 },
  );

  it('validates every object strictly against the Kubernetes 1.30 to 1.37 schemas, all in the kubescaler namespace', () => {
    assert.deepEqual(local.problems, []);
    assert.ok(local.objects.length > 30, `${local.objects.length} objects`);
    for (const obj of local.objects) {
      assert.equal(
        obj.metadata.labels?.['app.kubernetes.io/part-of'],
        'kubescaler',
        `${obj.kind}/${obj.metadata.name}`,
      );
    }
  });

  it("runs the base's apps and migration Job unchanged, except that the kubescaler image is never pulled", () => {
    for (const name of APP_WORKLOADS) {
      const w = workload(local, name);
      for (const c of [...w.podSpec.containers, ...w.podSpec.initContainers]) {
        assert.equal(c.image, 'kubescaler:local', `${name}/${c.name}`);
        assert.equal(c.imagePullPolicy, 'Never', `${name}/${c.name}`);
      }
      const original = baseObject(w.obj.kind, name);
      assert.deepEqual(unhash(withoutImages(w.podSpec)), unhash(withoutImages(original.spec.template.spec)), name);
      assert.deepEqual(w.obj.spec.template.metadata, original.spec.template.metadata, name);
    }
    for (const kind of [
      'PodDisruptionBudget',
      'Role',
      'RoleBinding',
      'ClusterRoleBinding',
      'ServiceAccount',
      'Ingress',
    ]) {
      for (const obj of ofKind(local, kind))
        assert.deepEqual(obj, baseObject(kind, obj.metadata.name), `${kind}/${obj.metadata.name}`);
    }
    for (const app of ['base', 'main', 'stream'])
      assert.deepEqual(named(local, 'Service', app), baseObject('Service', app));
  });

  it("keeps the base's configuration, scrape config and adapter rules byte for byte, with development sign-in off", () => {
    for (const name of [
      'kubescaler-config',
      'prometheus-config',
      'prometheus-adapter-config',
      'kubescaler-wait-for-tcp',
    ]) {
      const ours = generated(local, 'ConfigMap', name);
      const theirs = base.find((o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith(`${name}-`));
      assert.deepEqual(ours.data, theirs?.data, name);
    }
    assert.equal(generated(local, 'ConfigMap', 'kubescaler-config').data.AUTH_DEV_LOGIN, undefined);
    assert.ok(generated(local, 'Secret', 'kubescaler-auth').data.AUTH_JWT_SECRET);
    assert.ok(generated(local, 'Secret', 'kubescaler-admin').data.ADMIN_TOKEN);
  });

  it('runs Cassandra, Redis, Prometheus and prometheus-adapter outside: no pods of theirs, their Services kept', () => {
    assert.deepEqual(ofKind(local, 'StatefulSet'), []);
    assert.deepEqual(
      workloads(local)
        .map((w) => w.obj.metadata.name)
        .sort(),
      [...APP_WORKLOADS].sort(),
    );
    for (const name of ['cassandra', 'redis-a']) {
      const service = named(local, 'Service', name);
      assert.equal(service.spec.selector, undefined, `${name}: no pods behind it, the local server instead`);
      assert.deepEqual(service.spec.ports, baseObject('Service', name).spec.ports, name);
    }
    assert.throws(() => named(local, 'Service', 'cassandra-peers'));
  });

  it('reaches prometheus-adapter through an ExternalName Service, for custom.metrics.k8s.io and metrics.k8s.io', () => {
    const adapter = named(local, 'Service', 'prometheus-adapter');
    assert.equal(adapter.spec.type, 'ExternalName');
    assert.equal(adapter.spec.externalName, 'localhost');
    assert.equal(adapter.spec.selector, undefined);
    const apiServices = ofKind(local, 'APIService');
    assert.deepEqual(apiServices.map((a) => a.spec.group).sort(), ['custom.metrics.k8s.io', 'metrics.k8s.io']);
    for (const apiService of apiServices) {
      assert.deepEqual(apiService.spec.service, {
        name: 'prometheus-adapter',
        namespace: 'kubescaler',
        port: adapter.spec.ports[0].port,
      });
    }
    assert.ok(
      generated(local, 'ConfigMap', 'prometheus-adapter-resource-rules').data['resource-rules.yaml'].includes(
        'process_cpu_seconds_total',
      ),
    );
  });

  it("keeps the base's HPA targets and bounds, with scale-down windows short enough for a test", () => {
    for (const hpa of ofKind(local, 'HorizontalPodAutoscaler')) {
      const original = baseObject('HorizontalPodAutoscaler', hpa.metadata.name);
      assert.deepEqual(
        { ...hpa.spec, behavior: undefined },
        { ...original.spec, behavior: undefined },
        hpa.metadata.name,
      );
      assert.ok(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds <= 30, hpa.metadata.name);
      assert.ok(
        hpa.spec.behavior.scaleDown.stabilizationWindowSeconds <
          original.spec.behavior.scaleDown.stabilizationWindowSeconds,
      );
      for (const policy of [...hpa.spec.behavior.scaleUp.policies, ...hpa.spec.behavior.scaleDown.policies]) {
        assert.ok(policy.periodSeconds <= 15, `${hpa.metadata.name}: ${JSON.stringify(policy)}`);
      }
      assert.equal(hpa.spec.behavior.scaleDown.policies.length, original.spec.behavior.scaleDown.policies.length);
    }
  });
});
