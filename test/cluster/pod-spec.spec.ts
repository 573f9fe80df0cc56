import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  commandLine,
  ContainerConfigError,
  containerEnv,
  expandVariables,
  IMAGE_CMD,
  IMAGE_ENV,
  IMAGE_WORKDIR,
  isProjectImage,
  type Pod,
  probePlan,
  ProbeVerdict,
  restartDelayMs,
  terminationPlan,
} from './pod-spec.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const pod = (spec: Record<string, unknown> = {}): Pod => ({
  metadata: { name: 'stream-7d9-abc', namespace: 'kubescaler', uid: 'u-1', labels: { app: 'stream' } },
  spec: { nodeName: 'kwok-node-0', ...spec },
  status: { podIP: '127.0.2.9', hostIP: '127.0.0.1' },
});
const sources = (
  configMaps: Record<string, Record<string, string>>,
  secrets: Record<string, Record<string, string>> = {},
) => ({
  configMap: (_ns: string, name: string) => configMaps[name],
  secret: (_ns: string, name: string) => secrets[name],
});

describe(containerEnv.name, () => {
  const sut = containerEnv;

  it('takes envFrom first and lets env override it, with prefixes, downward API fields and secret keys', () => {
    const env = sut(
      pod(),
      {
        envFrom: [{ configMapRef: { name: 'config' } }, { secretRef: { name: 'extra' }, prefix: 'X_' }],
        env: [
          { name: 'PORT', value: '3002' },
          { name: 'LOG_LEVEL', value: 'warn' },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
          { name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
          { name: 'APP', valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
          { name: 'ADMIN_TOKEN', valueFrom: { secretKeyRef: { name: 'admin', key: 'ADMIN_TOKEN' } } },
          { name: 'URL', value: 'http://$(POD_IP):$(PORT)/$$(PORT)' },
        ],
      },
      sources(
        { config: { LOG_LEVEL: 'log', BASE_URL: 'http://base:3001' } },
        { extra: { A: '1' }, admin: { ADMIN_TOKEN: 't0k3n' } },
      ),
    );
    assert.deepEqual(env, {
      LOG_LEVEL: 'warn',
      BASE_URL: 'http://base:3001',
      X_A: '1',
      PORT: '3002',
      POD_NAME: 'stream-7d9-abc',
      POD_IP: '127.0.2.9',
      APP: 'stream',
      ADMIN_TOKEN: 't0k3n',
      URL: 'http://127.0.2.9:3002/$(PORT)',
    });
  });

  it('skips optional sources and keys that are missing', () => {
    const env = sut(
      pod(),
      {
        envFrom: [{ configMapRef: { name: 'absent', optional: true } }],
        env: [
          {
            name: 'AUTH_JWT_SECRET',
            valueFrom: { secretKeyRef: { name: 'auth', key: 'AUTH_JWT_SECRET', optional: true } },
          },
        ],
      },
      sources({}),
    );
    assert.deepEqual(env, {});
  });

  it('refuses to start a container whose required ConfigMap, Secret or key is missing', () => {
    assert.throws(
      () => sut(pod(), { envFrom: [{ configMapRef: { name: 'config' } }] }, sources({})),
      ContainerConfigError,
    );
    assert.throws(
      () =>
        sut(
          pod(),
          { env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'admin', key: 'NOPE' } } }] },
          sources({}, { admin: {} }),
        ),
      /key "NOPE" not found in secret "admin"/,
    );
    assert.throws(
      () =>
        sut(pod(), { env: [{ name: 'M', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } }] }, sources({})),
      ContainerConfigError,
    );
  });
});

describe(expandVariables.name, () => {
  const sut = expandVariables;

  it('expands known variables, keeps unknown ones as written and unescapes $$', () => {
    assert.equal(sut('$(A)-$(B)-$$(A)', { A: 'x' }), 'x-$(B)-$(A)');
  });
});

describe(commandLine.name, () => {
  const sut = commandLine;
  const mounts = [{ mountPath: '/opt/kubescaler', localDir: '/run/pod/volumes/wait-script' }];

  it('runs node from this Node.js, with paths in a volume mount pointing into the local volume directory', () => {
    const line = sut(
      { name: 'wait', command: ['node', '/opt/kubescaler/wait-for-tcp.mjs', 'REDIS_URL'] },
      {},
      mounts,
      '/repo',
      '/usr/bin/node',
    );
    assert.deepEqual(line, {
      file: '/usr/bin/node',
      args: ['/run/pod/volumes/wait-script/wait-for-tcp.mjs', 'REDIS_URL'],
    });
  });

  it("maps the image's working directory to the checkout and uses the image's CMD when the container names no command", () => {
    assert.deepEqual(
      sut({ name: 'base', command: ['node', `${IMAGE_WORKDIR}/apps/base/dist/main.js`] }, {}, [], '/repo', 'node'),
      {
        file: 'node',
        args: ['/repo/apps/base/dist/main.js'],
      },
    );
    assert.deepEqual(sut({ name: 'stream', args: ['--x=$(P)'] }, { P: '1' }, [], '/repo', 'node'), {
      file: 'node',
      args: [...IMAGE_CMD.slice(1), '--x=1'],
    });
  });

  it("matches the repository's Dockerfile: working directory, environment and default command", () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(runtime, new RegExp(`^WORKDIR ${IMAGE_WORKDIR}$`, 'm'));
    for (const [name, value] of Object.entries(IMAGE_ENV))
      assert.match(runtime, new RegExp(`^ENV ${name}=${value}$`, 'm'));
    assert.match(
      runtime,
      new RegExp(`^CMD ${JSON.stringify(IMAGE_CMD).replace(/[[\]]/g, '\\$&').replace(/,/g, ', ')}$`, 'm'),
    );
  });
});

describe(probePlan.name, () => {
  const sut = probePlan;
  const container = { name: 'stream', ports: [{ name: 'http', containerPort: 3002 }] };

  it("resolves a named port and keeps the probe's timings", () => {
    const plan = sut(container, {
      httpGet: { path: '/health/ready', port: 'http' },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 2,
    });
    assert.deepEqual(plan, {
      kind: 'http',
      port: 3002,
      path: '/health/ready',
      initialDelayMs: 0,
      periodMs: 5000,
      timeoutMs: 2000,
      successThreshold: 1,
      failureThreshold: 2,
    });
  });

  it("applies Kubernetes' defaults, and refuses a probe kind that cannot run here", () => {
    const plan = sut(container, { tcpSocket: { port: 3002 } });
    assert.equal(plan?.periodMs, 10_000);
    assert.equal(plan?.timeoutMs, 1000);
    assert.equal(plan?.failureThreshold, 3);
    assert.equal(sut(container, undefined), undefined);
    assert.throws(() => sut(container, { exec: { command: ['true'] } }), ContainerConfigError);
    assert.throws(() => sut(container, { httpGet: { port: 'metrics' } }), /no port named metrics/);
  });
});

describe(ProbeVerdict.name, () => {
  it('turns ready after successThreshold successes and unready only after failureThreshold failures in a row', () => {
    const sut = new ProbeVerdict({ successThreshold: 1, failureThreshold: 2 });
    assert.equal(sut.record(false), false);
    assert.equal(sut.record(true), true);
    assert.equal(sut.passing, true);
    assert.equal(sut.record(false), false);
    assert.equal(sut.record(true), false);
    assert.equal(sut.record(false), false);
    assert.equal(sut.record(false), true);
    assert.equal(sut.passing, false);
  });

  it('is exhausted after failureThreshold failures in a row (a startup probe gives up)', () => {
    const sut = new ProbeVerdict({ successThreshold: 1, failureThreshold: 3 });
    sut.record(false);
    sut.record(false);
    assert.equal(sut.exhausted, false);
    sut.record(false);
    assert.equal(sut.exhausted, true);
  });
});

describe(terminationPlan.name, () => {
  const sut = terminationPlan;

  it("sleeps the preStop seconds within the deletion's grace period", () => {
    const deleting = {
      ...pod({ terminationGracePeriodSeconds: 40 }),
      metadata: { ...pod().metadata, deletionGracePeriodSeconds: 40 },
    };
    assert.deepEqual(sut(deleting, { name: 's', lifecycle: { preStop: { sleep: { seconds: 5 } } } }), {
      preStopMs: 5000,
      graceMs: 40_000,
    });
    assert.deepEqual(sut(pod(), { name: 's' }), { preStopMs: 0, graceMs: 30_000 });
  });

  it('refuses preStop handlers other than sleep', () => {
    assert.throws(
      () => sut(pod(), { name: 's', lifecycle: { preStop: { exec: { command: ['x'] } } } }),
      ContainerConfigError,
    );
  });
});

describe(isProjectImage.name, () => {
  it('recognises the kubescaler image under any tag or registry, and nothing else', () => {
    assert.equal(isProjectImage('kubescaler:local'), true);
    assert.equal(isProjectImage('registry.example.com/kubescaler/kubescaler:0.1.0'), true);
    assert.equal(isProjectImage('prom/prometheus:v3.5.0'), false);
    assert.equal(isProjectImage(undefined), false);
  });
});

describe(restartDelayMs.name, () => {
  it('backs off from 1 s, doubling, to at most 30 s', () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6].map(restartDelayMs), [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });
});
