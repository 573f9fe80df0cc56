import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { parseAllDocuments } from 'yaml';
import {
  ensureTools,
  generated,
  type K8sObject,
  ofKind,
  renderOverlays,
  type RenderedOverlay,
  runCommand,
  workloads,
} from './rendered-manifests.js';

/** Names without the content hash of generated ConfigMaps and Secrets (the base references its Secrets unhashed). */
const unhash = (value: unknown): unknown => JSON.parse(JSON.stringify(value).replace(/-[a-z0-9]{10}"/g, '"'));

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

  it('is the base, object for object, adding only the Secrets the base leaves to overlays', () => {
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${unhash(o.metadata.name)}`;
    const ours = new Map(local.objects.map((o) => [key(o), o]));
    const theirs = new Map(base.map((o) => [key(o), o]));
    const added = [...ours.keys()].filter((k) => !theirs.has(k)).sort();
    assert.deepEqual(added, [
      'Secret/kubescaler/kubescaler-admin',
      'Secret/kubescaler/kubescaler-auth',
      'Secret/kubescaler/kubescaler-internal',
    ]);
    assert.deepEqual(
      [...theirs.keys()].filter((k) => !ours.has(k)),
      [],
      'nothing of the base is left out',
    );
    for (const [k, object] of ours) {
      if (object.kind === 'Secret' || object.kind === 'HorizontalPodAutoscaler') continue;
      assert.deepEqual(unhash(object), unhash(theirs.get(k)), k);
    }
    // Every workload of the base: the data tier and monitoring run as pods too.
    assert.deepEqual(
      workloads(local)
        .map((w) => w.obj.metadata.name)
        .sort(),
      ['base', 'cassandra', 'main', 'migrate', 'prometheus', 'prometheus-adapter', 'redis-a', 'stream'],
    );
    assert.equal(generated(local, 'ConfigMap', 'kubescaler-config').data.AUTH_DEV_LOGIN, undefined);
    assert.ok(generated(local, 'Secret', 'kubescaler-auth').data.AUTH_JWT_SECRET);
    assert.ok(generated(local, 'Secret', 'kubescaler-admin').data.ADMIN_TOKEN);
    assert.ok(generated(local, 'Secret', 'kubescaler-internal').data.INTERNAL_TOKEN);
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
