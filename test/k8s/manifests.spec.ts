import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { loadConfig } from '@app/config';
import { pathToFileURL } from 'node:url';
import { buildContext, dockerignore, parseCopy, parseStages, type Stage, UNWALKED } from './dockerfile.js';
import {
  allContainers,
  containerPort,
  ensureTools,
  generated,
  type K8sObject,
  named,
  ofKind,
  readRepoFile,
  renderOverlays,
  type RenderedOverlay,
  ROOT,
  runCommand,
  selects,
  SECRET_FILES,
  THROWAWAY_ADMIN_TOKEN,
  THROWAWAY_INTERNAL_TOKEN,
  THROWAWAY_AUTH_SECRET,
  type Workload,
  workload,
  workloads,
} from './rendered-manifests.js';
import { allowedByPolicies, type PolicyPeer } from './network-policies.js';
import { ingressRoute, isRoutedLocation, type NginxDirective, nginxRoute, parseNginxConfig } from './routing.js';
import { tsProjectGraph } from './ts-projects.js';

const OVERLAYS = ['minikube', 'production'] as const;
/** Paths of every class the product serves, and their near misses (gateway ↔ Ingress comparison). */
const GATEWAY_SAMPLE_PATHS = [
  '/',
  '/main',
  '/main/',
  '/main/users',
  '/main/login/6f1c2b8e-0b7e-4a53-9b0e-2a8f3f1d9c11',
  '/mainly',
  '/stream',
  '/stream/',
  '/stream/6f1c2b8e-0b7e-4a53-9b0e-2a8f3f1d9c11/0d6c0c3a-5b1f-4a8e-8a3e-7d2b9c1e4f00',
  '/streams',
  '/metrics',
  '/metrics/',
  '/metrics/x',
  '/metricsx',
  '/health',
  '/health/live',
  '/health/ready',
  '/healthz',
  '/index/u/p',
  '/style.css',
  '/favicon.svg',
  '/js/chart.js',
];
/** The three apps and the port each listens on (README: PORT defaults). */
const APPS = { base: 3001, main: 3000, stream: 3002 } as const;
type AppName = keyof typeof APPS;
const APP_NAMES = Object.keys(APPS) as AppName[];
/** The apps that verify users' tokens (base is internal and takes none). */
const AUTHORIZING_APPS: readonly AppName[] = ['main', 'stream'];
/** Workloads that run the kubescaler image: the apps and the migration Job. */
const KUBESCALER_WORKLOADS = [...APP_NAMES, 'migrate'];
/** stream exits within ~10 s of SIGTERM (reconnect events sent, locks released). */
const STREAM_DRAIN_SECONDS = 10;

/** Current, GA API versions; anything else (extensions/v1beta1, autoscaling/v2beta2, ...) fails. */
const CURRENT_API_VERSIONS = new Set([
  'v1',
  'apps/v1',
  'batch/v1',
  'autoscaling/v2',
  'networking.k8s.io/v1',
  'policy/v1',
  'rbac.authorization.k8s.io/v1',
  'apiregistration.k8s.io/v1',
]);
const DEPRECATED_API_VERSIONS = [
  'extensions/v1beta1',
  'apps/v1beta1',
  'apps/v1beta2',
  'networking.k8s.io/v1beta1',
  'autoscaling/v1',
  'autoscaling/v2beta1',
  'autoscaling/v2beta2',
  'policy/v1beta1',
  'batch/v1beta1',
  'rbac.authorization.k8s.io/v1beta1',
  'apiregistration.k8s.io/v1beta1',
];
const CLUSTER_SCOPED_KINDS = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'APIService']);
/** Volume types the "restricted" Pod Security Standard allows. */
const RESTRICTED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

const env = (container: K8sObject, name: string): K8sObject | undefined =>
  (container.env ?? []).find((entry: K8sObject) => entry.name === name);
const mainContainer = (w: Workload): K8sObject => w.podSpec.containers[0];
const exportedStreamMetrics = (): string[] =>
  [...readRepoFile('apps/stream/src/streams/stream-metrics.ts').matchAll(/name:\s*'(\w+)'/g)].map((m) => m[1]);
const configKeys = (): Set<string> =>
  new Set([...readRepoFile('libs/config/src/load-config.ts').matchAll(/^\s+([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]));

function imageTag(image: string): string | undefined {
  const last = image.split('/').pop() ?? '';
  return last.includes(':') ? last.split(':').pop() : undefined;
}

function assertPinned(image: string, where: string): void {
  assert.doesNotMatch(image, /@/, `${where}: ${image} (use a version tag)`);
  const tag = imageTag(image);
  assert.ok(tag, `${where}: ${image} has no tag`);
  assert.notEqual(tag, 'latest', `${where}: ${image} uses :latest`);
  assert.match(tag, /\d+\.\d+\.\d+/, `${where}: ${image} is not pinned to an exact version`);
}

/** The parsed YAML file a container reads at `filePath` from a mounted ConfigMap. */
function mountedConfigFile(overlay: RenderedOverlay, w: Workload, filePath: string): any {
  const container = mainContainer(w);
  const mount = (container.volumeMounts ?? []).find((m: K8sObject) => m.mountPath === path.posix.dirname(filePath));
  assert.ok(mount, `${w.obj.metadata.name} mounts nothing at ${path.posix.dirname(filePath)}`);
  const volume = w.podSpec.volumes.find((v: K8sObject) => v.name === mount.name);
  assert.ok(volume?.configMap, `${w.obj.metadata.name}: ${mount.name} is not a ConfigMap volume`);
  const key = `ConfigMap/${volume.configMap.name}/${path.posix.basename(filePath)}`;
  assert.ok(key in overlay.embedded, `overlays/${overlay.name} has no ${key}`);
  return overlay.embedded[key];
}

function argValue(container: K8sObject, flag: string): string {
  const arg = (container.args ?? []).find((a: string) => a.startsWith(`${flag}=`));
  assert.ok(arg, `${container.name} has no ${flag}=`);
  return arg.slice(flag.length + 1);
}

/** Asserts that `host:port` (as an app would dial it) reaches a Service port in the overlay. */
function assertServiceAddress(overlay: RenderedOverlay, host: string, port: number, what: string): K8sObject {
  const name = host.split('.')[0];
  const svc = overlay.objects.find((obj) => obj.kind === 'Service' && obj.metadata.name === name);
  assert.ok(svc, `overlays/${overlay.name}: ${what} names ${host}, which is no Service`);
  assert.ok(
    svc.spec.ports.some((p: K8sObject) => p.port === port),
    `overlays/${overlay.name}: ${what} uses port ${port}, Service ${name} does not`,
  );
  return svc;
}

interface Route {
  ingress: K8sObject;
  path: string;
  pathType: string;
  service: string;
  port: K8sObject;
}

function routes(overlay: RenderedOverlay): Route[] {
  return ofKind(overlay, 'Ingress').flatMap((ingress) =>
    ingress.spec.rules.flatMap((rule: K8sObject) =>
      rule.http.paths.map((p: K8sObject) => ({
        ingress,
        path: p.path,
        pathType: p.pathType,
        service: p.backend.service.name,
        port: p.backend.service.port,
      })),
    ),
  );
}

function route(overlay: RenderedOverlay, urlPath: string): Route {
  const found = routes(overlay).filter((r) => r.path === urlPath);
  assert.equal(found.length, 1, `overlays/${overlay.name}: expected one Ingress path ${urlPath}`);
  return found[0];
}

function preStopSeconds(container: K8sObject): number {
  const preStop = container.lifecycle?.preStop;
  if (preStop?.sleep) return preStop.sleep.seconds;
  const command: string[] = preStop?.exec?.command ?? [];
  const sleep = command.indexOf('sleep');
  return sleep >= 0 ? Number(command[sleep + 1]) : 0;
}

/** The replicas a workload runs with at least (its HPA's minimum when it has one). */
function minReplicas(overlay: RenderedOverlay, w: Workload): number {
  const hpa = ofKind(overlay, 'HorizontalPodAutoscaler').find(
    (h) => h.spec.scaleTargetRef.kind === w.obj.kind && h.spec.scaleTargetRef.name === w.obj.metadata.name,
  );
  return hpa ? (hpa.spec.minReplicas ?? 1) : (w.obj.spec.replicas ?? 1);
}

function walkFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const relative = `${dir}/${entry.name}`;
    return entry.isDirectory() ? walkFiles(relative) : [relative];
  });
}

/** Package names every module reachable from the entry points imports (relative and @app/* followed). */
function runtimeImports(entries: readonly string[]): { packages: Set<string>; files: Set<string> } {
  const packages = new Set<string>();
  const files = new Set<string>();
  const queue = [...entries];
  while (queue.length > 0) {
    const file = queue.pop() as string;
    if (files.has(file)) continue;
    files.add(file);
    const source = readFileSync(path.join(ROOT, file), 'utf8');
    const specifiers = [
      ...source.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/^import\s*['"]([^'"]+)['"]/gm),
      ...source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
    ].map((m) => m[1]);
    for (const specifier of specifiers) {
      if (specifier.startsWith('.')) {
        queue.push(path.posix.join(path.posix.dirname(file), specifier));
      } else if (specifier.startsWith('@app/')) {
        const [, lib, ...subpath] = specifier.split('/');
        const manifest = JSON.parse(readRepoFile(`libs/${lib}/package.json`));
        const entry = manifest.exports[subpath.length ? `./${subpath.join('/')}` : '.'];
        assert.ok(entry, `${file} imports ${specifier}, which libs/${lib}/package.json does not export`);
        queue.push(path.posix.join(`libs/${lib}`, entry.default));
        packages.add(`@app/${lib}`);
      } else {
        const parts = specifier.split('/');
        packages.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
      }
    }
  }
  return { packages, files };
}

const runs = (stage: Stage): string[] => stage.instructions.filter((i) => i.op === 'RUN').map((i) => i.args);

/** The TypeScript projects the Dockerfile builds (`npx tsc -b <projects>`). */
function tscProjects(): string[] {
  const command = parseStages(readRepoFile('Dockerfile'))
    .stages.flatMap(runs)
    .find((r) => /\bnpx tsc -b\b/.test(r));
  assert.ok(command, 'the Dockerfile does not run npx tsc -b');
  return command.replace(/^.*\bnpx tsc -b\s+/, '').split(/\s+/);
}

describe('Kubernetes manifests (k8s/), rendered and validated offline', () => {
  const rendered = {} as Record<(typeof OVERLAYS)[number], RenderedOverlay>;
  const each = (): RenderedOverlay[] => OVERLAYS.map((name) => rendered[name]);

  before(
    async () => {
      const tools = await ensureTools();
      for (const overlay of await renderOverlays(tools, OVERLAYS)) {
        rendered[overlay.name as (typeof OVERLAYS)[number]] = overlay;
      }
    },
    { timeout: 15 * 60_000 },
  );

  describe('rendering and schemas', () => {
    it('renders every overlay with kustomize into the kubescaler namespace', (t) => {
      for (const overlay of each()) {
        t.diagnostic(`overlays/${overlay.name}: ${overlay.objects.length} objects`);
        assert.ok(overlay.objects.length > 30, `overlays/${overlay.name} rendered only ${overlay.objects.length}`);
        for (const obj of overlay.objects) {
          const where = `overlays/${overlay.name} ${obj.kind}/${obj.metadata.name}`;
          if (CLUSTER_SCOPED_KINDS.has(obj.kind)) {
            assert.equal(obj.metadata.namespace, undefined, where);
          } else if (obj.kind === 'RoleBinding' && obj.roleRef.name === 'extension-apiserver-authentication-reader') {
            assert.equal(obj.metadata.namespace, 'kube-system', where);
          } else {
            assert.equal(obj.metadata.namespace, 'kubescaler', where);
          }
          assert.equal(obj.metadata.labels?.['app.kubernetes.io/part-of'], 'kubescaler', where);
        }
      }
    });

    it('validates every object strictly against the Kubernetes 1.30 to 1.37 schemas (unknown fields are errors)', () => {
      for (const overlay of each()) {
        assert.deepEqual(overlay.problems, [], `overlays/${overlay.name}:\n${overlay.problems.join('\n')}`);
      }
    });

    it('uses only current API versions and built-in kinds (no CRDs)', () => {
      for (const overlay of each()) {
        for (const obj of overlay.objects) {
          const where = `overlays/${overlay.name} ${obj.kind}/${obj.metadata.name}`;
          assert.ok(!DEPRECATED_API_VERSIONS.includes(obj.apiVersion), `${where}: deprecated ${obj.apiVersion}`);
          assert.ok(CURRENT_API_VERSIONS.has(obj.apiVersion), `${where}: ${obj.apiVersion} is not a current GA API`);
          assert.notEqual(obj.kind, 'CustomResourceDefinition', where);
        }
      }
    });
  });

  describe('autoscaling', () => {
    /** In every overlay: the HPA of Deployment `app`, its replica range and metric, and a behavior in both directions. */
    const assertHpa = (app: string, replicas: { min: number; max: number }, metric: object) => {
      for (const overlay of each()) {
        const hpa = named(overlay, 'HorizontalPodAutoscaler', app);
        assert.deepEqual(hpa.spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment', name: app });
        assert.deepEqual([hpa.spec.minReplicas, hpa.spec.maxReplicas], [replicas.min, replicas.max]);
        assert.deepEqual(hpa.spec.metrics, [metric]);
        for (const direction of ['scaleUp', 'scaleDown']) {
          const rules = hpa.spec.behavior?.[direction];
          assert.ok(rules, `HPA ${app} has no behavior.${direction}`);
          assert.equal(typeof rules.stabilizationWindowSeconds, 'number', `${app} ${direction}`);
          assert.ok(rules.policies?.length > 0, `${app} ${direction} has no policies`);
        }
      }
    };

    it('scales main on CPU at 80 % average utilization between 1 and 3 replicas, with an explicit behavior', () => {
      assertHpa(
        'main',
        { min: 1, max: 3 },
        { type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 80 } } },
      );
    });

    it('scales stream on the pods metric stream_active_connections at an average of 5 between 1 and 5 replicas', () => {
      assertHpa(
        'stream',
        { min: 1, max: 5 },
        {
          type: 'Pods',
          pods: { metric: { name: 'stream_active_connections' }, target: { type: 'AverageValue', averageValue: '5' } },
        },
      );
    });

    it('leaves the replica count of every HPA target to its HPA', () => {
      for (const overlay of each()) {
        for (const hpa of ofKind(overlay, 'HorizontalPodAutoscaler')) {
          const target = named(overlay, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
          assert.equal(target.spec.replicas, undefined, `${target.metadata.name} sets replicas beside its HPA`);
        }
      }
    });

    it('names one metric in the stream HPA, the prometheus-adapter rule and the gauge stream exports', () => {
      const exported = exportedStreamMetrics();
      assert.ok(exported.includes('stream_active_connections'), 'stream-metrics.ts does not export the gauge');
      assert.match(
        readRepoFile('apps/stream/src/streams/stream-metrics.ts'),
        /gauge\(\{\s*name:\s*'stream_active_connections'/,
        'stream_active_connections must be a gauge',
      );
      for (const overlay of each()) {
        const hpaMetric = named(overlay, 'HorizontalPodAutoscaler', 'stream').spec.metrics[0].pods.metric.name;
        const adapter = workload(overlay, 'prometheus-adapter');
        const config = mountedConfigFile(overlay, adapter, argValue(mainContainer(adapter), '--config'));
        const rule = config.rules.find((r: K8sObject) => r.name?.as === hpaMetric);
        assert.ok(rule, `overlays/${overlay.name}: no adapter rule exposes ${hpaMetric}`);
        assert.ok(exported.includes(hpaMetric));
        assert.equal(rule.seriesQuery, `${hpaMetric}{namespace!="",pod!=""}`);
        assert.match(hpaMetric, new RegExp(rule.name.matches));
        assert.deepEqual(rule.resources.overrides, {
          namespace: { resource: 'namespace' },
          pod: { resource: 'pod' },
        });
        assert.equal(rule.metricsQuery, 'sum(<<.Series>>{<<.LabelMatchers>>}) by (<<.GroupBy>>)');
      }
    });

    it('registers prometheus-adapter as v1beta1.custom.metrics.k8s.io, backed by its Service and reading Prometheus', () => {
      for (const overlay of each()) {
        const api = named(overlay, 'APIService', 'v1beta1.custom.metrics.k8s.io');
        assert.equal(api.spec.group, 'custom.metrics.k8s.io');
        assert.equal(api.spec.version, 'v1beta1');
        assert.equal(api.spec.service.namespace, 'kubescaler');
        const svc = assertServiceAddress(overlay, api.spec.service.name, api.spec.service.port ?? 443, 'APIService');
        const adapter = workload(overlay, 'prometheus-adapter');
        assert.ok(selects(svc.spec.selector, adapter.podLabels), 'the APIService Service does not select the adapter');
        const url = new URL(argValue(mainContainer(adapter), '--prometheus-url'));
        const prometheusSvc = assertServiceAddress(overlay, url.hostname, Number(url.port), '--prometheus-url');
        assert.ok(selects(prometheusSvc.spec.selector, workload(overlay, 'prometheus').podLabels));
      }
    });
  });

  describe('metrics pipeline', () => {
    it('has Prometheus scrape annotated pods and label every series with the real namespace and pod', () => {
      for (const overlay of each()) {
        const prometheus = workload(overlay, 'prometheus');
        const config = mountedConfigFile(overlay, prometheus, argValue(mainContainer(prometheus), '--config.file'));
        const job = config.scrape_configs.find((j: K8sObject) =>
          j.kubernetes_sd_configs?.some((sd: K8sObject) => sd.role === 'pod'),
        );
        assert.ok(job, 'no scrape job discovers pods');
        const relabel = (source: string, target: string) =>
          job.relabel_configs.find(
            (r: K8sObject) =>
              r.source_labels?.length === 1 &&
              r.source_labels[0] === source &&
              r.target_label === target &&
              (r.action ?? 'replace') === 'replace',
          );
        assert.ok(relabel('__meta_kubernetes_namespace', 'namespace'), 'namespace label missing');
        assert.ok(relabel('__meta_kubernetes_pod_name', 'pod'), 'pod label missing');
        assert.ok(relabel('__meta_kubernetes_pod_annotation_prometheus_io_path', '__metrics_path__'));
        assert.ok(
          job.relabel_configs.some(
            (r: K8sObject) =>
              r.action === 'keep' &&
              r.source_labels?.[0] === '__meta_kubernetes_pod_annotation_prometheus_io_scrape' &&
              r.regex === 'true',
          ),
          'pods are not filtered on prometheus.io/scrape',
        );
        assert.ok(
          job.relabel_configs.some(
            (r: K8sObject) =>
              r.target_label === '__address__' &&
              r.source_labels?.includes('__meta_kubernetes_pod_annotation_prometheus_io_port'),
          ),
          'the scrape port does not come from prometheus.io/port',
        );
      }
    });

    it('annotates every app pod for scraping on its own port at /metrics, which every app serves', () => {
      assert.match(readRepoFile('libs/metrics/src/metrics.controller.ts'), /@Controller\('metrics'\)[\s\S]*@Get\(\)/);
      // Every app's root module is built by rootModule, which imports MetricsModule.
      assert.match(
        readRepoFile('libs/http/src/root-module.ts'),
        /imports: \[ConfigModule\.forRoot\(config\), MetricsModule,/,
      );
      for (const app of APP_NAMES) {
        assert.match(
          readRepoFile(`apps/${app}/src/app.module.ts`),
          /\breturn rootModule\(AppModule,/,
          `${app} lacks MetricsModule`,
        );
      }
      for (const overlay of each()) {
        for (const app of APP_NAMES) {
          const w = workload(overlay, app);
          assert.equal(w.podAnnotations['prometheus.io/scrape'], 'true', app);
          assert.equal(w.podAnnotations['prometheus.io/port'], String(APPS[app]), app);
          assert.equal(w.podAnnotations['prometheus.io/path'], '/metrics', app);
          assert.ok(containerPort(mainContainer(w), APPS[app]), `${app} does not expose ${APPS[app]}`);
        }
      }
    });

    it('limits Prometheus to reading pods, endpoints and services of its own namespace', () => {
      for (const overlay of each()) {
        const sa = workload(overlay, 'prometheus').podSpec.serviceAccountName;
        const bindings = [...ofKind(overlay, 'RoleBinding'), ...ofKind(overlay, 'ClusterRoleBinding')].filter((b) =>
          b.subjects?.some((s: K8sObject) => s.kind === 'ServiceAccount' && s.name === sa),
        );
        assert.equal(bindings.length, 1, `ServiceAccount ${sa} must have exactly one binding`);
        const [binding] = bindings;
        assert.equal(binding.kind, 'RoleBinding');
        assert.equal(binding.metadata.namespace, 'kubescaler');
        assert.equal(binding.roleRef.kind, 'Role');
        const role = named(overlay, 'Role', binding.roleRef.name);
        for (const rule of role.rules) {
          assert.deepEqual(rule.apiGroups, ['']);
          for (const resource of rule.resources) assert.ok(['pods', 'endpoints', 'services'].includes(resource));
          for (const verb of rule.verbs) assert.ok(['get', 'list', 'watch'].includes(verb));
        }
      }
    });
  });

  describe('ingress', () => {
    /** The local gateway's nginx.conf, as `npm start` generates it, parsed. */
    const localGateway = async (): Promise<NginxDirective[]> => {
      const gateway = await import(pathToFileURL(path.join(ROOT, 'scripts/lib/gateway.mjs')).href);
      return parseNginxConfig(
        gateway.gatewayConfig({
          dir: '/tmp/kubescaler-gateway',
          host: '127.0.0.1',
          port: 8080,
          mainUrls: ['http://127.0.0.1:3000'],
          streamUrls: ['http://127.0.0.1:3002', 'http://127.0.0.1:3003'],
        }),
      );
    };

    it('routes every path as the local nginx gateway does: same Service or the same refusal, same proxy directives', async () => {
      const nginx = await localGateway();
      const locations = nginx
        .find((d) => d.name === 'http')!
        .block!.find((d) => d.name === 'server')!
        .block!.filter(isRoutedLocation)
        .map((d) => d.args.at(-1)!);
      for (const overlay of each()) {
        const ingresses = ofKind(overlay, 'Ingress');
        const declared = [...routes(overlay).map((r) => r.path), ...locations];
        const paths = new Set([
          ...GATEWAY_SAMPLE_PATHS,
          ...declared.flatMap((p) => [p, `${p}x`, `${p.replace(/\/$/, '')}/x`]),
        ]);
        for (const urlPath of paths) {
          assert.deepEqual(
            nginxRoute(nginx, urlPath),
            ingressRoute(ingresses, urlPath),
            `overlays/${overlay.name}: ${urlPath} (nginx ↔ Ingress)`,
          );
        }
      }
      // What the path classes are, read from the nginx side (the comparison above makes it the Ingress's too).
      const route = (p: string) => nginxRoute(nginx, p);
      assert.deepEqual(
        ['/main', '/main/users', '/mainly', '/', '/stream/a/b', '/metrics', '/health/live'].map((p) => route(p).to),
        ['main', 'main', 'stream', 'stream', 'stream', 'denied', 'denied'],
      );
      const stream = route('/stream/a/b').directives!;
      assert.equal(stream.proxy_buffering, 'off');
      assert.equal(stream.proxy_request_buffering, 'off');
      assert.ok(Number(stream.proxy_read_timeout) >= 3600);
      assert.equal(route('/').directives!.proxy_read_timeout, '60', 'only /stream waits for hours');
    });

    it('routes /main to main and / to stream, and never routes to base or any other Service', () => {
      assert.match(readRepoFile('apps/stream/src/streams/streams.controller.ts'), /@Controller\('stream'\)/);
      // main serves every module with controllers under /main, set once in its AppModule (the e2e
      // suite checks the routes the running app answers).
      const appModule = readRepoFile('apps/main/src/app.module.ts');
      assert.match(appModule, /RouterModule\.register\(\[\{ path: 'main', children: prefixed \}\]\)/);
      assert.match(appModule, /const prefixed = api\.map\(/);
      const apiModules = (/const api: [^=]*= \[([^\]]*)\]/.exec(appModule)?.[1] ?? '')
        .split(',')
        .map((name) => name.trim().replace(/\.forRoot\([^)]*\)$/, ''))
        .filter(Boolean);
      // A module declares controllers in its @Module() or in the DynamicModule its forRoot() returns.
      const withControllers = walkFiles('apps/main/src')
        .filter((f) => f.endsWith('.module.ts'))
        .map(readRepoFile)
        .filter((source) => /\bcontrollers:/.test(source))
        .flatMap((source) => [...source.matchAll(/^export class (\w+)/gm)].map((m) => m[1]));
      assert.ok(withControllers.length > 0);
      assert.deepEqual(
        [...apiModules].sort(),
        [...withControllers].sort(),
        'a main module with controllers is outside /main',
      );
      for (const overlay of each()) {
        for (const ingress of ofKind(overlay, 'Ingress')) {
          assert.equal(ingress.spec.ingressClassName, 'nginx', ingress.metadata.name);
        }
        assert.deepEqual([route(overlay, '/main').service, route(overlay, '/main').pathType], ['main', 'Prefix']);
        assert.deepEqual([route(overlay, '/').service, route(overlay, '/').pathType], ['stream', 'Prefix']);
        assert.deepEqual(new Set(routes(overlay).map((r) => r.service)), new Set(['main', 'stream']));
      }
    });

    it('turns proxy buffering off and keeps /stream open for an hour, so the pod feels a slow client', () => {
      for (const overlay of each()) {
        const stream = route(overlay, '/stream');
        assert.equal(stream.service, 'stream');
        const annotations = stream.ingress.metadata.annotations ?? {};
        assert.equal(annotations['nginx.ingress.kubernetes.io/proxy-buffering'], 'off');
        assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout']) >= 3600);
        assert.ok(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout']) >= 3600);
        for (const r of [route(overlay, '/'), route(overlay, '/main'), stream]) {
          const a = (name: string) => r.ingress.metadata.annotations?.[`nginx.ingress.kubernetes.io/${name}`];
          assert.equal(a('proxy-buffering'), 'off');
          // One bounded buffer per response, and a dead pod skipped before a response starts.
          assert.match(a('proxy-buffer-size') ?? '', /^\d+k$/, `${r.path}: proxy-buffer-size`);
          assert.ok(
            parseInt(a('proxy-buffer-size')!, 10) <= 16,
            `${r.path}: proxy-buffer-size ${a('proxy-buffer-size')}`,
          );
          assert.deepEqual((a('proxy-next-upstream') ?? '').split(' ').sort(), ['error', 'timeout'], r.path);
          assert.ok(Number(a('proxy-next-upstream-tries')) >= 2, `${r.path}: proxy-next-upstream-tries`);
        }
      }
    });

    it('refuses /metrics and /health from outside, which the / route would otherwise expose', () => {
      for (const overlay of each()) {
        for (const urlPath of ['/metrics', '/health']) {
          const r = route(overlay, urlPath);
          const denied = r.ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/denylist-source-range'] ?? '';
          assert.ok(denied.split(',').includes('0.0.0.0/0'), `${urlPath} is reachable from outside`);
          assert.equal(r.pathType, 'Prefix');
        }
      }
    });
  });

  describe('apps', () => {
    it('probes /health/live and /health/ready on the port each app listens on, and the apps serve both', () => {
      const health = readRepoFile('libs/health/src/health.controller.ts');
      assert.match(health, /@Controller\('health'\)/);
      assert.match(health, /@Get\('live'\)/);
      assert.match(health, /@Get\('ready'\)/);
      for (const app of APP_NAMES) {
        assert.match(readRepoFile(`apps/${app}/src/app.module.ts`), /\bHealthModule\b/, `${app} lacks HealthModule`);
      }
      for (const overlay of each()) {
        for (const app of APP_NAMES) {
          const container = mainContainer(workload(overlay, app));
          assert.equal(container.livenessProbe?.httpGet?.path, '/health/live', app);
          assert.equal(container.readinessProbe?.httpGet?.path, '/health/ready', app);
          if (container.startupProbe) assert.equal(container.startupProbe.httpGet?.path, '/health/live', app);
          for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe]) {
            if (!probe) continue;
            assert.equal(containerPort(container, probe.httpGet.port)?.containerPort, APPS[app], `${app} probe port`);
          }
          assert.equal(env(container, 'PORT')?.value, String(APPS[app]), `${app} PORT`);
        }
      }
    });

    it('agrees on ports between containers, Services, Ingress backends and the configured URLs', () => {
      for (const overlay of each()) {
        const all = workloads(overlay);
        for (const svc of ofKind(overlay, 'Service')) {
          const backends = all.filter((w) => selects(svc.spec.selector, w.podLabels));
          assert.ok(backends.length > 0, `Service ${svc.metadata.name} selects no pods`);
          for (const port of svc.spec.ports) {
            for (const w of backends) {
              const target = port.targetPort ?? port.port;
              assert.ok(
                w.podSpec.containers.some((c: K8sObject) => containerPort(c, target)),
                `Service ${svc.metadata.name} port ${port.port} -> ${target}: not a port of ${w.obj.metadata.name}`,
              );
            }
          }
        }
        for (const r of routes(overlay)) {
          const svc = named(overlay, 'Service', r.service);
          assert.ok(
            svc.spec.ports.some((p: K8sObject) => (r.port.name ? p.name === r.port.name : p.port === r.port.number)),
            `Ingress ${r.path} -> ${r.service}: no such Service port`,
          );
        }
        const config = generated(overlay, 'ConfigMap', 'kubescaler-config').data;
        const base = new URL(config.BASE_URL);
        assertServiceAddress(overlay, base.hostname, Number(base.port), 'BASE_URL');
        for (const point of config.CASSANDRA_CONTACT_POINTS.split(',')) {
          const [host, port] = point.split(':');
          assertServiceAddress(overlay, host, Number(port ?? 9042), 'CASSANDRA_CONTACT_POINTS');
        }
        for (const url of [config.REDIS_URL, ...config.REDIS_LOCK_URLS.split(',')]) {
          const parsed = new URL(url);
          assertServiceAddress(overlay, parsed.hostname, Number(parsed.port || 6379), 'REDIS_*');
        }
      }
    });

    it('feeds every app a configuration that loadConfig accepts, with only variables it knows', () => {
      const known = configKeys();
      assert.ok(known.has('REDIS_LOCK_URLS') && known.has('PORT'), 'could not read the config schema');
      for (const overlay of each()) {
        for (const app of APP_NAMES) {
          const container = mainContainer(workload(overlay, app));
          const refs = (container.envFrom ?? []).map((from: K8sObject) => from.configMapRef?.name);
          assert.equal(refs.length, 1, `${app} must read exactly one ConfigMap`);
          const data = named(overlay, 'ConfigMap', refs[0]).data;
          for (const key of [...Object.keys(data), ...(container.env ?? []).map((e: K8sObject) => e.name)]) {
            assert.ok(known.has(key), `${app}: ${key} is not a configuration variable`);
          }
          const authSecret = env(container, 'AUTH_JWT_SECRET') ? THROWAWAY_AUTH_SECRET : undefined;
          const config = loadConfig(app, {
            ...data,
            PORT: env(container, 'PORT')?.value,
            POD_NAME: `${app}-0`,
            ADMIN_TOKEN: THROWAWAY_ADMIN_TOKEN,
            INTERNAL_TOKEN: THROWAWAY_INTERNAL_TOKEN,
            AUTH_JWT_SECRET: authSecret,
          });
          assert.equal(config.internalToken, THROWAWAY_INTERNAL_TOKEN, `${app} holds the service credential`);
          assert.equal(config.http.port, APPS[app]);
          if ('auth' in config) assert.equal(config.auth.mode, 'jwt', `${app}: users' tokens are checked`);
        }
      }
    });

    it('gives the Redlock quorum three independent Redis instances in production and one in minikube', () => {
      const expected = { minikube: 1, production: 3 };
      for (const overlay of each()) {
        const data = generated(overlay, 'ConfigMap', 'kubescaler-config').data;
        const config = loadConfig('stream', { ...data, AUTH_JWT_SECRET: THROWAWAY_AUTH_SECRET });
        assert.equal(config.redis.lockUrls.length, expected[overlay.name as keyof typeof expected]);
        assert.equal(
          config.redis.url,
          config.redis.lockUrls[0],
          'REDIS_URL is the first lock instance, sharing its client',
        );
        assert.deepEqual(config.warnings, [], 'an odd number of lock servers');
        const statefulSets = config.redis.lockUrls.map((url) => {
          const svc = named(overlay, 'Service', new URL(url).hostname);
          const backing = workloads(overlay).filter((w) => selects(svc.spec.selector, w.podLabels));
          assert.equal(backing.length, 1, `${url} must reach exactly one workload`);
          assert.equal(backing[0].obj.kind, 'StatefulSet');
          assert.equal(backing[0].obj.spec.replicas, 1);
          return backing[0].obj.metadata.name;
        });
        assert.equal(new Set(statefulSets).size, statefulSets.length, 'lock instances must be independent');
        const cassandra = named(overlay, 'StatefulSet', 'cassandra');
        assert.ok(loadConfig('base', data).cassandra.replicationFactor <= cassandra.spec.replicas);
      }
      assert.equal(named(rendered.production, 'StatefulSet', 'cassandra').spec.replicas, 3);
      assert.equal(
        loadConfig('base', generated(rendered.production, 'ConfigMap', 'kubescaler-config').data).cassandra
          .replicationFactor,
        3,
      );
    });

    it('takes POD_NAME from the downward API and ADMIN_TOKEN from the generated Secret', () => {
      for (const overlay of each()) {
        for (const name of KUBESCALER_WORKLOADS) {
          const container = mainContainer(workload(overlay, name));
          assert.deepEqual(env(container, 'POD_NAME')?.valueFrom, { fieldRef: { fieldPath: 'metadata.name' } }, name);
        }
        const secret = generated(overlay, 'Secret', 'kubescaler-admin');
        for (const app of APP_NAMES) {
          const ref = env(mainContainer(workload(overlay, app)), 'ADMIN_TOKEN')?.valueFrom?.secretKeyRef;
          assert.deepEqual(ref, { name: secret.metadata.name, key: 'ADMIN_TOKEN' }, app);
        }
        assert.equal(Buffer.from(secret.data.ADMIN_TOKEN, 'base64').toString(), THROWAWAY_ADMIN_TOKEN);
        for (const w of workloads(overlay)) {
          for (const c of allContainers(w.podSpec)) {
            for (const e of c.env ?? []) {
              if (/TOKEN|PASSWORD|SECRET/.test(e.name))
                assert.equal(e.value, undefined, `${c.name}: literal ${e.name}`);
            }
          }
        }
        for (const cm of ofKind(overlay, 'ConfigMap')) assert.ok(!('ADMIN_TOKEN' in (cm.data ?? {})));
      }
    });

    it('denies by default and lets through only what the system uses: base from its peers, the apps from the ingress, /metrics ports from Prometheus, DNS', () => {
      for (const overlay of each()) {
        const policies = ofKind(overlay, 'NetworkPolicy');
        const deny = policies.find((p) => p.metadata.name === 'default-deny');
        assert.deepEqual(deny?.spec, { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }, overlay.name);
        const pod = (name: string): PolicyPeer => {
          const found = workloads(overlay).find(
            (w) => w.obj.metadata.name === name || w.podLabels['app.kubernetes.io/name'] === name,
          );
          assert.ok(found, `${overlay.name}: no workload ${name}`);
          return { namespace: 'kubescaler', labels: found.podLabels };
        };
        const ingressController: PolicyPeer = {
          namespace: 'ingress-nginx',
          labels: { 'app.kubernetes.io/name': 'ingress-nginx' },
        };
        const coreDns: PolicyPeer = { namespace: 'kube-system', labels: { 'k8s-app': 'kube-dns' } };
        const stranger: PolicyPeer = { namespace: 'default', labels: { app: 'anything' } };
        const can = (from: PolicyPeer, to: PolicyPeer, port: number, protocol = 'TCP') =>
          allowedByPolicies(policies, from, to, port, protocol);
        const [base, main, stream, migrate, cassandra, prometheus, adapter] = [
          'base',
          'main',
          'stream',
          'migrate',
          'cassandra',
          'prometheus',
          'prometheus-adapter',
        ].map(pod) as [PolicyPeer, PolicyPeer, PolicyPeer, PolicyPeer, PolicyPeer, PolicyPeer, PolicyPeer];
        const redis = pod('redis-a');
        const label = (what: string) => `${overlay.name}: ${what}`;
        // What the system needs.
        for (const peer of [main, stream, migrate])
          assert.ok(can(peer, base, APPS.base), label(`${peer.labels['app.kubernetes.io/name']} → base`));
        for (const app of [main, stream]) {
          assert.ok(
            can(ingressController, app, APPS[app.labels['app.kubernetes.io/name'] as 'main']),
            label('ingress → app'),
          );
          assert.ok(can(app, redis, 6379), label('app → redis'));
        }
        for (const peer of [base, migrate]) assert.ok(can(peer, cassandra, 9042), label('→ cassandra'));
        assert.ok(can(cassandra, cassandra, 7000), label('cassandra gossip'));
        for (const app of APP_NAMES)
          assert.ok(can(prometheus, pod(app), APPS[app]), label(`prometheus scrapes ${app}`));
        assert.ok(can(adapter, prometheus, 9090), label('adapter → prometheus'));
        for (const w of workloads(overlay)) {
          const from = { namespace: 'kubescaler', labels: w.podLabels };
          assert.ok(
            can(from, coreDns, 53, 'UDP') && can(from, coreDns, 53, 'TCP'),
            label(`${w.obj.metadata.name} resolves names`),
          );
        }
        // What it must not allow.
        for (const peer of [ingressController, stranger, redis, cassandra, adapter]) {
          assert.ok(!can(peer, base, APPS.base), label(`base is closed to ${JSON.stringify(peer.labels)}`));
        }
        for (const app of [main, stream]) {
          for (const peer of [stranger, base, redis, cassandra, migrate]) {
            assert.ok(!can(peer, app, APPS[app.labels['app.kubernetes.io/name'] as 'main']), label('app port closed'));
          }
        }
        for (const peer of [stranger, ingressController, base, migrate, prometheus])
          assert.ok(!can(peer, redis, 6379), label('redis closed'));
        for (const peer of [stranger, ingressController, main, stream])
          assert.ok(!can(peer, cassandra, 9042), label('cassandra closed'));
        assert.ok(!can(stranger, prometheus, 9090) && !can(main, prometheus, 9090), label('prometheus closed'));
        assert.ok(!can(main, stranger, 443) && !can(base, stranger, 80), label('no egress to the world'));
      }
    });

    it('takes INTERNAL_TOKEN for base, main, stream and the migration Job from the generated Secret kubescaler-internal', () => {
      for (const overlay of each()) {
        const secret = generated(overlay, 'Secret', 'kubescaler-internal');
        assert.deepEqual(Object.keys(secret.data), ['INTERNAL_TOKEN']);
        assert.equal(Buffer.from(secret.data.INTERNAL_TOKEN, 'base64').toString(), THROWAWAY_INTERNAL_TOKEN);
        for (const name of KUBESCALER_WORKLOADS) {
          const ref = env(mainContainer(workload(overlay, name)), 'INTERNAL_TOKEN')?.valueFrom?.secretKeyRef;
          assert.deepEqual(ref, { name: secret.metadata.name, key: 'INTERNAL_TOKEN' }, name);
        }
        for (const cm of ofKind(overlay, 'ConfigMap')) assert.ok(!('INTERNAL_TOKEN' in (cm.data ?? {})));
      }
    });

    it('takes AUTH_JWT_SECRET for main and stream from the generated Secret kubescaler-auth, never a literal', () => {
      for (const overlay of each()) {
        const secret = generated(overlay, 'Secret', 'kubescaler-auth');
        assert.deepEqual(Object.keys(secret.data), ['AUTH_JWT_SECRET']);
        assert.equal(Buffer.from(secret.data.AUTH_JWT_SECRET, 'base64').toString(), THROWAWAY_AUTH_SECRET);
        for (const app of APP_NAMES) {
          const ref = env(mainContainer(workload(overlay, app)), 'AUTH_JWT_SECRET')?.valueFrom?.secretKeyRef;
          if (!AUTHORIZING_APPS.includes(app)) {
            assert.equal(ref, undefined, `${app} takes no users' tokens`);
            continue;
          }
          // Optional, so an identity provider alone (AUTH_JWKS_URL) can replace it; the app fails closed without either.
          assert.deepEqual(ref, { name: secret.metadata.name, key: 'AUTH_JWT_SECRET', optional: true }, app);
        }
        for (const cm of ofKind(overlay, 'ConfigMap')) {
          assert.ok(!('AUTH_JWT_SECRET' in (cm.data ?? {})), `${cm.metadata.name} holds the secret`);
        }
      }
    });

    it('gives main the publisher tokens from the optional Secret kubescaler-publish, and no other app', () => {
      for (const overlay of each()) {
        for (const app of APP_NAMES) {
          const ref = env(mainContainer(workload(overlay, app)), 'PUBLISH_TOKENS')?.valueFrom?.secretKeyRef;
          if (app !== 'main') {
            assert.equal(ref, undefined, `${app} takes no publishes`);
            continue;
          }
          // Optional: without the Secret only the admin token publishes.
          assert.deepEqual(ref, { name: 'kubescaler-publish', key: 'PUBLISH_TOKENS', optional: true });
        }
        for (const cm of ofKind(overlay, 'ConfigMap')) {
          assert.ok(!('PUBLISH_TOKENS' in (cm.data ?? {})), `${cm.metadata.name} holds publisher tokens`);
        }
      }
    });

    it('turns development sign-in on in minikube only, never in base or production', () => {
      const devLogin = (overlay: RenderedOverlay) =>
        loadConfig('main', {
          ...generated(overlay, 'ConfigMap', 'kubescaler-config').data,
          AUTH_JWT_SECRET: THROWAWAY_AUTH_SECRET,
        }).auth.devLogin;
      assert.equal(devLogin(rendered.minikube), true);
      assert.equal(devLogin(rendered.production), false);
      assert.doesNotMatch(readRepoFile('k8s/base/app-config.env'), /AUTH_DEV_LOGIN/);
      assert.doesNotMatch(readRepoFile('k8s/overlays/production/kustomization.yaml'), /AUTH_DEV_LOGIN/);
      for (const overlay of each()) {
        for (const w of workloads(overlay)) {
          for (const c of allContainers(w.podSpec)) {
            assert.equal(env(c, 'AUTH_DEV_LOGIN'), undefined, `${c.name}: AUTH_DEV_LOGIN belongs in the ConfigMap`);
            assert.equal(env(c, 'AUTH_MODE'), undefined, `${c.name}: AUTH_MODE belongs in the ConfigMap`);
          }
        }
        assert.equal(generated(overlay, 'ConfigMap', 'kubescaler-config').data.AUTH_MODE, 'jwt', overlay.name);
      }
    });

    it('keeps the generated secret files out of git', async () => {
      for (const overlay of [...OVERLAYS, 'local']) {
        for (const name of SECRET_FILES) {
          const file = `k8s/overlays/${overlay}/${name}`;
          const ignored = await runCommand('git', ['check-ignore', '-q', '--no-index', file]);
          assert.equal(ignored.code, 0, `${file} is not git-ignored`);
        }
      }
      const tracked = await runCommand('git', ['ls-files', '--', 'k8s']);
      assert.equal(tracked.code, 0, tracked.stderr);
      assert.doesNotMatch(tracked.stdout, /admin-token\.env|auth-secret\.env|internal-token\.env/);
    });

    it('pauses in preStop and allows enough grace to drain streams and release locks', () => {
      for (const overlay of each()) {
        for (const app of APP_NAMES) {
          const w = workload(overlay, app);
          const pause = preStopSeconds(mainContainer(w));
          assert.ok(pause >= 3, `${app}: preStop pause ${pause} s`);
          const drain = app === 'stream' ? STREAM_DRAIN_SECONDS + 5 : 10;
          assert.ok(
            w.podSpec.terminationGracePeriodSeconds >= pause + drain,
            `${app}: grace ${w.podSpec.terminationGracePeriodSeconds} s < preStop ${pause} s + ${drain} s`,
          );
        }
      }
    });

    it('runs migrations once per rollout in a Job that minikube-up.sh recreates', () => {
      assert.ok(existsSync(path.join(ROOT, 'apps/base/src/migrate.ts')));
      for (const overlay of each()) {
        const job = workload(overlay, 'migrate');
        assert.equal(job.obj.kind, 'Job');
        assert.deepEqual(mainContainer(job).command, ['node', 'apps/base/dist/migrate.js']);
        assert.ok(['Never', 'OnFailure'].includes(job.podSpec.restartPolicy));
        assert.equal(typeof job.obj.spec.backoffLimit, 'number');
        assert.equal(typeof job.obj.spec.ttlSecondsAfterFinished, 'number');
      }
      const up = readRepoFile('k8s/minikube-up.sh');
      const deleteAt = up.indexOf('delete job migrate');
      assert.ok(deleteAt > 0 && deleteAt < up.indexOf('apply -k'), 'the Job must be deleted before the apply');
    });

    it('starts in every kubescaler container a compiled entry point that the Dockerfile builds', () => {
      const built = tscProjects().map((project) => path.posix.dirname(project));
      for (const overlay of each()) {
        for (const name of KUBESCALER_WORKLOADS) {
          const [node, entry] = mainContainer(workload(overlay, name)).command;
          assert.equal(node, 'node', name);
          assert.ok(
            built.some((dir) => entry.startsWith(`${dir}/dist/`)),
            `${name} runs ${entry}, not built`,
          );
          assert.ok(existsSync(path.join(ROOT, entry)), `${name} runs ${entry}, which does not exist`);
        }
      }
    });

    it('has each init container wait for addresses from the ConfigMap its app reads', () => {
      for (const overlay of each()) {
        for (const name of KUBESCALER_WORKLOADS) {
          const w = workload(overlay, name);
          const [init] = w.podSpec.initContainers ?? [];
          assert.ok(init, `${name} has no init container`);
          const [node, script, ...targets] = init.command;
          assert.equal(node, 'node');
          const mount = init.volumeMounts.find((m: K8sObject) => script.startsWith(`${m.mountPath}/`));
          const volume = w.podSpec.volumes.find((v: K8sObject) => v.name === mount?.name);
          const scripts = named(overlay, 'ConfigMap', volume.configMap.name).data;
          assert.equal(scripts[path.posix.basename(script)], readRepoFile('k8s/base/wait-for-tcp.mjs'));
          assert.deepEqual(init.envFrom, mainContainer(w).envFrom, `${name}: init and app read different config`);
          const data = named(overlay, 'ConfigMap', init.envFrom[0].configMapRef.name).data;
          assert.ok(targets.length > 0);
          for (const target of targets) {
            const variable = target.replace(/^majority:/, '');
            assert.ok(variable in data, `${name} waits for ${variable}, which is not set`);
          }
          if (name !== 'base' && name !== 'migrate') {
            assert.deepEqual(
              targets,
              ['majority:REDIS_LOCK_URLS'],
              `${name} must start with a majority of lock servers`,
            );
          }
        }
      }
    });
  });

  describe('resources, images and security', () => {
    it('sets cpu and memory requests and a memory limit on every container', () => {
      for (const overlay of each()) {
        for (const w of workloads(overlay)) {
          for (const c of allContainers(w.podSpec)) {
            const where = `overlays/${overlay.name} ${w.obj.metadata.name}/${c.name}`;
            assert.ok(c.resources?.requests?.cpu, `${where}: no cpu request`);
            assert.ok(c.resources?.requests?.memory, `${where}: no memory request`);
            assert.ok(c.resources?.limits?.memory, `${where}: no memory limit`);
          }
        }
      }
    });

    it('pins every image, except the locally built one that minikube never pulls', () => {
      const localImage = /^IMAGE="([^"]+)"$/m.exec(readRepoFile('k8s/minikube-up.sh'))?.[1];
      assert.ok(localImage, 'minikube-up.sh names no IMAGE');
      for (const overlay of each()) {
        for (const w of workloads(overlay)) {
          const kubescaler = KUBESCALER_WORKLOADS.includes(w.obj.metadata.name);
          for (const c of allContainers(w.podSpec)) {
            const where = `overlays/${overlay.name} ${w.obj.metadata.name}/${c.name}`;
            if (overlay.name === 'minikube' && kubescaler) {
              assert.equal(c.image, localImage, where);
              assert.equal(c.imagePullPolicy, 'Never', where);
            } else {
              assertPinned(c.image, where);
              assert.notEqual(c.imagePullPolicy, 'Never', where);
            }
          }
        }
      }
    });

    it('runs the app containers as the image user, non-root, on a read-only root filesystem', () => {
      const dockerUser = /^USER\s+(\d+)(?::(\d+))?\s*$/m.exec(readRepoFile('Dockerfile'));
      assert.ok(dockerUser, 'the Dockerfile has no numeric USER');
      for (const overlay of each()) {
        for (const name of KUBESCALER_WORKLOADS) {
          const w = workload(overlay, name);
          assert.equal(w.podSpec.securityContext?.runAsNonRoot, true, name);
          assert.equal(w.podSpec.securityContext?.runAsUser, Number(dockerUser[1]), name);
          assert.equal(w.podSpec.automountServiceAccountToken, false, `${name} does not need the API`);
          for (const c of allContainers(w.podSpec)) {
            assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${name}/${c.name}`);
            assert.equal(c.securityContext?.allowPrivilegeEscalation, false, `${name}/${c.name}`);
          }
        }
      }
    });

    it('meets the restricted Pod Security Standard that the namespace enforces', () => {
      // Cassandra's entrypoint rewrites its config in the image at start: the one writable root.
      const writableRoot = new Set(['cassandra/cassandra']);
      for (const overlay of each()) {
        const labels = named(overlay, 'Namespace', 'kubescaler').metadata.labels;
        assert.equal(labels['pod-security.kubernetes.io/enforce'], 'restricted');
        for (const w of workloads(overlay)) {
          const spec = w.podSpec;
          const pod = spec.securityContext ?? {};
          const name = w.obj.metadata.name;
          assert.ok(!spec.hostNetwork && !spec.hostPID && !spec.hostIPC, name);
          for (const volume of spec.volumes ?? []) {
            const type = Object.keys(volume).find((key) => key !== 'name') as string;
            assert.ok(RESTRICTED_VOLUME_TYPES.has(type), `${name}: volume type ${type}`);
          }
          for (const c of allContainers(spec)) {
            const sc = c.securityContext ?? {};
            const where = `overlays/${overlay.name} ${name}/${c.name}`;
            assert.notEqual(sc.privileged, true, where);
            assert.equal(sc.allowPrivilegeEscalation, false, where);
            assert.ok(sc.capabilities?.drop?.includes('ALL'), `${where}: capabilities not dropped`);
            for (const added of sc.capabilities?.add ?? []) assert.equal(added, 'NET_BIND_SERVICE', where);
            assert.equal(sc.runAsNonRoot ?? pod.runAsNonRoot, true, `${where}: may run as root`);
            assert.notEqual(sc.runAsUser ?? pod.runAsUser, 0, where);
            assert.ok(
              ['RuntimeDefault', 'Localhost'].includes((sc.seccompProfile ?? pod.seccompProfile)?.type),
              `${where}: no seccomp profile`,
            );
            for (const port of c.ports ?? []) assert.equal(port.hostPort, undefined, where);
            if (!writableRoot.has(`${name}/${c.name}`)) {
              assert.equal(sc.readOnlyRootFilesystem, true, `${where}: writable root filesystem`);
            }
          }
        }
      }
    });

    it('binds no ServiceAccount to cluster-admin and grants only read access', () => {
      for (const overlay of each()) {
        for (const binding of [...ofKind(overlay, 'RoleBinding'), ...ofKind(overlay, 'ClusterRoleBinding')]) {
          const where = `${binding.kind}/${binding.metadata.name}`;
          assert.ok(!['cluster-admin', 'admin', 'edit'].includes(binding.roleRef.name), where);
          for (const subject of binding.subjects) {
            assert.deepEqual([subject.kind, subject.namespace], ['ServiceAccount', 'kubescaler'], where);
          }
          if (binding.kind === 'ClusterRoleBinding') {
            assert.ok(
              ['system:auth-delegator', 'kubescaler-prometheus-adapter'].includes(binding.roleRef.name),
              `${where} grants ${binding.roleRef.name}`,
            );
          }
        }
        for (const role of [...ofKind(overlay, 'Role'), ...ofKind(overlay, 'ClusterRole')]) {
          for (const rule of role.rules) {
            for (const verb of rule.verbs) assert.ok(['get', 'list', 'watch'].includes(verb), `${role.metadata.name}`);
            assert.ok(!rule.resources.includes('*') && !rule.resources.includes('secrets'), role.metadata.name);
          }
        }
      }
    });

    it('exposes every Service as ClusterIP; only the Cassandra peer Service is headless', () => {
      for (const overlay of each()) {
        for (const svc of ofKind(overlay, 'Service')) {
          assert.equal(svc.spec.type ?? 'ClusterIP', 'ClusterIP', svc.metadata.name);
          const headless = svc.spec.clusterIP === 'None';
          assert.equal(headless, svc.metadata.name === 'cassandra-peers', svc.metadata.name);
        }
        assert.equal(named(overlay, 'StatefulSet', 'cassandra').spec.serviceName, 'cassandra-peers');
      }
    });

    it('covers every app and data store with a PodDisruptionBudget that still lets a node drain', () => {
      for (const overlay of each()) {
        const budgets = ofKind(overlay, 'PodDisruptionBudget');
        for (const w of workloads(overlay)) {
          if (w.obj.kind === 'Job' || w.podLabels['app.kubernetes.io/component'] === 'monitoring') continue;
          const pdbs = budgets.filter((pdb) => selects(pdb.spec.selector.matchLabels, w.podLabels));
          assert.equal(pdbs.length, 1, `${w.obj.metadata.name} needs one PodDisruptionBudget`);
          const [pdb] = pdbs;
          const replicas = minReplicas(overlay, w);
          const allowed =
            pdb.spec.maxUnavailable !== undefined ? pdb.spec.maxUnavailable >= 1 : pdb.spec.minAvailable < replicas;
          assert.ok(allowed, `${pdb.metadata.name} blocks every eviction of ${w.obj.metadata.name}`);
        }
      }
    });
  });

  describe('Grafana (minikube)', () => {
    it('provisions the Prometheus data source and the kubescaler dashboard in minikube only', () => {
      const overlay = rendered.minikube;
      const grafana = workload(overlay, 'grafana');
      const sources = mountedConfigFile(overlay, grafana, '/etc/grafana/provisioning/datasources/datasources.yaml');
      const prometheusUrl = new URL(sources.datasources[0].url);
      assertServiceAddress(overlay, prometheusUrl.hostname, Number(prometheusUrl.port), 'Grafana data source');
      const providers = mountedConfigFile(overlay, grafana, '/etc/grafana/provisioning/dashboards/dashboards.yaml');
      const dashboardDir = providers.providers[0].options.path;
      const mount = mainContainer(grafana).volumeMounts.find((m: K8sObject) => m.mountPath === dashboardDir);
      assert.ok(mount, `nothing is mounted at ${dashboardDir}`);
      const volume = grafana.podSpec.volumes.find((v: K8sObject) => v.name === mount.name);
      const dashboards = named(overlay, 'ConfigMap', volume.configMap.name).data;
      assert.ok('kubescaler.json' in dashboards);
      assert.equal(
        ofKind(rendered.production, 'Deployment').find((d) => d.metadata.name === 'grafana'),
        undefined,
      );
    });

    it('charts connections per pod, events and drops per second, p99 lock latency and replicas from real metrics', () => {
      const overlay = rendered.minikube;
      const dashboards = generated(overlay, 'ConfigMap', 'grafana-dashboards').data;
      const dashboard = JSON.parse(dashboards['kubescaler.json']);
      const exprs: string[] = dashboard.panels.flatMap((p: K8sObject) => p.targets.map((t: K8sObject) => t.expr));
      const all = exprs.join('\n');
      assert.match(all, /sum by \(pod\) \(stream_active_connections\)/);
      assert.match(all, /rate\(stream_events_sent_total\[/);
      assert.match(all, /rate\(stream_events_dropped_total\[/);
      assert.match(all, /histogram_quantile\(0\.99, .*stream_lock_acquire_duration_seconds_bucket/);
      assert.ok(
        dashboard.panels.some((p: K8sObject) => /replicas/i.test(p.title)),
        'no replicas panel',
      );
      const exported = exportedStreamMetrics();
      for (const [, metric] of all.matchAll(/\b(stream_[a-z_]+)/g)) {
        assert.ok(
          exported.includes(metric.replace(/_bucket$/, '')),
          `the dashboard reads ${metric}, nobody exports it`,
        );
      }
      for (const panel of dashboard.panels) {
        for (const target of panel.targets) assert.equal(target.datasource.uid, 'prometheus');
      }
    });
  });
});

describe('Dockerfile (checked without a container engine)', () => {
  const dockerfile = readRepoFile('Dockerfile');
  const { stages } = parseStages(dockerfile);
  const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
  const excluded = dockerignore(readRepoFile('.dockerignore'));

  it('pins every base image to an exact version', () => {
    assert.ok(stages.length >= 2, 'expected a multi-stage build');
    for (const stage of stages) {
      if (stageNames.has(stage.from)) continue;
      assertPinned(stage.from, `FROM ${stage.from}`);
      assert.match(stage.from, /slim|distroless/, 'the runtime base image should be small');
    }
  });

  it('copies only files that exist in the repository and that .dockerignore keeps in the context', () => {
    const context = buildContext(ROOT, excluded);
    let copies = 0;
    stages.forEach((stage, index) => {
      for (const instruction of stage.instructions.filter((i) => i.op === 'COPY')) {
        const copy = parseCopy(instruction.args);
        if (copy.from) {
          const earlier = stages.slice(0, index).map((s) => s.name);
          assert.ok(earlier.includes(copy.from), `COPY --from=${copy.from} is not an earlier stage`);
          continue;
        }
        for (const source of copy.sources) {
          copies++;
          const clean = source.replace(/\/+$/, '');
          assert.ok(existsSync(path.join(ROOT, clean)), `COPY ${source}: no such file`);
          const kept = [...context].some((file) => file === clean || file.startsWith(`${clean}/`));
          assert.ok(kept, `COPY ${source}: excluded by .dockerignore`);
        }
      }
    });
    assert.ok(copies >= 5);
  });

  it('keeps dependencies, build output, caches, tests and secrets out of the build context', () => {
    for (const name of UNWALKED) assert.ok(excluded(`${name}/x`), `${name}/ is in the build context`);
    for (const file of [
      'libs/config/node_modules/x/index.js',
      'apps/base/dist/main.js',
      'libs/config/dist/index.js',
      'apps/base/dist/.tsbuildinfo',
      'test/e2e/base-api.e2e-spec.ts',
      'k8s/overlays/minikube/admin-token.env',
      'k8s/overlays/minikube/auth-secret.env',
      'scripts/start.mjs',
    ]) {
      assert.ok(excluded(file), `${file} is in the build context`);
    }
    for (const file of buildContext(ROOT, excluded)) {
      assert.doesNotMatch(file, /(^|\/)(dist|node_modules)\//, `${file} is in the build context`);
    }
  });

  it('sends every file the TypeScript build reads', () => {
    const context = buildContext(ROOT, excluded);
    const seen = new Set<string>();
    const visit = (project: string) => {
      if (seen.has(project)) return;
      seen.add(project);
      assert.ok(context.has(project), `${project} is not in the build context`);
      const tsconfig = JSON.parse(readRepoFile(project));
      const dir = path.posix.dirname(project);
      if (tsconfig.extends) visit(path.posix.join(dir, tsconfig.extends));
      for (const include of tsconfig.include ?? []) {
        for (const file of walkFiles(path.posix.join(dir, include))) {
          if (file.endsWith('.ts')) assert.ok(context.has(file), `${file} is not in the build context`);
        }
      }
      for (const reference of tsconfig.references ?? []) visit(path.posix.join(dir, reference.path));
    };
    for (const project of tscProjects()) visit(project);
    for (const manifest of ['package.json', 'package-lock.json', '.npmrc']) assert.ok(context.has(manifest), manifest);
    for (const lib of readdirSync(path.join(ROOT, 'libs'))) {
      assert.ok(context.has(`libs/${lib}/package.json`), `libs/${lib}/package.json is not in the build context`);
    }
  });

  it('builds with npm ci and tsc -b on projects that the npm test build has just compiled', () => {
    const all = stages.flatMap(runs);
    assert.ok(
      all.some((r) => /\bnpm ci\b/.test(r) && !/--omit=dev/.test(r)),
      'no full npm ci for the build',
    );
    assert.ok(
      all.some((r) => /\bnpm ci\b.*--omit=dev/.test(r)),
      'no production-only npm ci',
    );
    const rootReferences = JSON.parse(readRepoFile('tsconfig.json')).references.map((r: K8sObject) =>
      path.posix.normalize(r.path),
    );
    for (const project of tscProjects()) {
      assert.ok(rootReferences.includes(project), `${project} is not built by the root tsc -b (npm test)`);
      const outDir = JSON.parse(readRepoFile(project)).compilerOptions.outDir;
      const main = path.posix.join(path.posix.dirname(project), outDir, 'main.js');
      assert.ok(existsSync(path.join(ROOT, main)), `${main} was not built`);
    }
    // What `npm ci` checks first: the lockfile matches package.json and every workspace.
    const pkg = JSON.parse(readRepoFile('package.json'));
    const lock = JSON.parse(readRepoFile('package-lock.json'));
    // Some npm versions list optional dependencies among the lockfile's dependencies as well.
    const optional = new Set(Object.keys(pkg.optionalDependencies ?? {}));
    const required = Object.fromEntries(
      Object.entries(lock.packages[''].dependencies as Record<string, string>).filter(([name]) => !optional.has(name)),
    );
    assert.deepEqual(required, pkg.dependencies);
    assert.deepEqual(lock.packages[''].devDependencies, pkg.devDependencies);
    assert.deepEqual(lock.packages[''].optionalDependencies, pkg.optionalDependencies);
    for (const lib of readdirSync(path.join(ROOT, 'libs'))) {
      if (!existsSync(path.join(ROOT, 'libs', lib, 'package.json'))) continue;
      assert.ok(lock.packages[`libs/${lib}`], `libs/${lib} is missing from package-lock.json`);
    }
  });

  it('compiles no test support for the image: libs/testing and the integration specs are outside its build graph', () => {
    const image = tsProjectGraph(ROOT, tscProjects());
    const npmTest = tsProjectGraph(ROOT, ['tsconfig.json']);
    assert.ok(image.size >= 5 && image.has('apps/base/tsconfig.app.json'), 'the build graph walk found too little');
    for (const [project, { files, references }] of image) {
      assert.ok(npmTest.has(project), `${project} is built for the image but not by npm test`);
      assert.ok(!project.startsWith('libs/testing/'), `${project} (test support) is in the image's build graph`);
      for (const reference of references) {
        assert.ok(!reference.startsWith('libs/testing/'), `${project} references ${reference} (test support)`);
      }
      for (const file of files) {
        assert.doesNotMatch(
          file,
          /^libs\/testing\/|\.(integration|e2e)-spec\.ts$|integration-support\.ts$/,
          `${project} compiles ${file}`,
        );
        assert.doesNotMatch(
          readRepoFile(file),
          /from\s+['"]@(app|nestjs)\/testing['"]/,
          `${project} compiles ${file}, which imports test support`,
        );
      }
    }
  });

  it('compiles every spec file of the repository in the npm test build, so none is silently left out', () => {
    const compiled = new Set([...tsProjectGraph(ROOT, ['tsconfig.json']).values()].flatMap((p) => p.files));
    const sources = (dir: string): string[] =>
      readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
        const relative = `${dir}/${entry.name}`;
        if (!entry.isDirectory()) return [relative];
        return ['dist', 'node_modules'].includes(entry.name) ? [] : sources(relative);
      });
    const specs = ['apps', 'libs', 'test']
      .flatMap(sources)
      .filter((file) => /\.(spec|integration-spec|e2e-spec)\.ts$/.test(file));
    assert.ok(specs.length >= 30, `found only ${specs.length} spec files`);
    for (const spec of specs) assert.ok(compiled.has(spec), `${spec} is not compiled by the root tsc -b (npm test)`);
  });

  it('runs with production dependencies only: the compiled apps import nothing else', () => {
    const pkg = JSON.parse(readRepoFile('package.json'));
    const entries = [...APP_NAMES.map((app) => `apps/${app}/dist/main.js`), 'apps/base/dist/migrate.js'];
    const { packages, files } = runtimeImports(entries);
    assert.ok(files.size > 20 && packages.has('@nestjs/core'), 'the import scan found too little');
    for (const name of packages) {
      const ok =
        builtinModules.includes(name) ||
        name.startsWith('node:') ||
        name in (pkg.dependencies ?? {}) ||
        // Optional native addons: installed by the production npm ci where they build, and loaded
        // with a fallback where they did not (sockopt: TCP_NOTSENT_LOWAT).
        name in (pkg.optionalDependencies ?? {}) ||
        (name.startsWith('@app/') && existsSync(path.join(ROOT, 'libs', name.slice(5), 'package.json')));
      assert.ok(ok, `${name} is imported at run time but is not a production dependency`);
    }
    for (const file of files) {
      assert.doesNotMatch(file, /(spec|-spec)\.js$/, `${file}: a test file is reachable at run time`);
      assert.match(file, /^(apps|libs)\/[^/]+\/dist\//, `${file} is not in the image`);
    }
  });

  it('runs as the non-root user 1000 with package.json, public/ and the compiled apps in the image', () => {
    const runtime = stages[stages.length - 1];
    const user = runtime.instructions.find((i) => i.op === 'USER');
    assert.equal(user?.args, '1000:1000');
    const copied = runtime.instructions.filter((i) => i.op === 'COPY').map((i) => parseCopy(i.args));
    assert.ok(
      copied.some((c) => !c.from && c.sources.includes('package.json')),
      'package.json ("type": "module")',
    );
    assert.ok(
      copied.some((c) => !c.from && c.sources.includes('public')),
      'public/ (the web client)',
    );
    assert.ok(
      copied.some((c) => c.from === 'prod-deps'),
      'node_modules from the production install',
    );
    const cmd = JSON.parse(runtime.instructions.find((i) => i.op === 'CMD')?.args ?? '[]');
    assert.equal(cmd[0], 'node');
    assert.ok(existsSync(path.join(ROOT, cmd[1])), `CMD runs ${cmd[1]}, which the build does not produce`);
    for (const port of Object.values(APPS)) {
      assert.match(runtime.instructions.find((i) => i.op === 'EXPOSE')?.args ?? '', new RegExp(`\\b${port}\\b`));
    }
  });
});

describe('minikube scripts', () => {
  for (const script of ['k8s/minikube-up.sh', 'k8s/minikube-down.sh']) {
    it(`${script} is executable and parses with bash -n`, async () => {
      assert.ok(statSync(path.join(ROOT, script)).mode & 0o111, `${script} is not executable`);
      const result = await runCommand('bash', ['-n', script]);
      assert.equal(result.code, 0, result.stderr);
    });
  }

  it('minikube-up.sh enables the addons the HPAs need, builds the image and applies the minikube overlay', () => {
    const up = readRepoFile('k8s/minikube-up.sh');
    assert.match(up, /addons enable ingress/);
    assert.match(up, /addons enable metrics-server/);
    assert.match(up, /image build -t "\$IMAGE"/);
    assert.match(up, /^OVERLAY="k8s\/overlays\/minikube"$/m);
    assert.match(up, /^TOKEN_FILE="\$OVERLAY\/admin-token\.env"$/m);
    assert.match(up, /^AUTH_FILE="\$OVERLAY\/auth-secret\.env"$/m);
    assert.match(up, /AUTH_JWT_SECRET=%s/);
    assert.match(up, /apply -k "\$OVERLAY"/);
    assert.match(up, /rollout status/);
    assert.match(up, /get hpa/);
    const contextPaths = /^CONTEXT_PATHS=\(([^)]*)\)$/m.exec(up)?.[1].split(/\s+/) ?? [];
    for (const stage of parseStages(readRepoFile('Dockerfile')).stages) {
      for (const instruction of stage.instructions.filter((i) => i.op === 'COPY')) {
        const copy = parseCopy(instruction.args);
        if (copy.from) continue;
        for (const source of copy.sources) {
          assert.ok(contextPaths.includes(source.replace(/\/+$/, '')), `minikube-up.sh does not ship ${source}`);
        }
      }
    }
    assert.ok(contextPaths.includes('Dockerfile'));
  });
});

describe('k8s/base/wait-for-tcp.mjs (init containers)', () => {
  const script = path.join(ROOT, 'k8s/base/wait-for-tcp.mjs');

  it('exits 0 once every target accepts connections, reading a list from an environment variable', async () => {
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as net.AddressInfo;
      const result = await runCommand(process.execPath, [script, 'TARGETS', `127.0.0.1:${port}`], {
        env: { ...process.env, TARGETS: `redis://127.0.0.1:${port},http://127.0.0.1:${port}` },
        timeoutMs: 20_000,
      });
      assert.equal(result.code, 0, result.stderr);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('is satisfied by a majority of a majority: list, one of three servers being down', async () => {
    const servers = [net.createServer((socket) => socket.destroy()), net.createServer((socket) => socket.destroy())];
    await Promise.all(servers.map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
    const dead = net.createServer();
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve));
    const deadPort = (dead.address() as net.AddressInfo).port;
    await new Promise((resolve) => dead.close(resolve));
    try {
      const live = servers.map((server) => `redis://127.0.0.1:${(server.address() as net.AddressInfo).port}`);
      const started = Date.now();
      const result = await runCommand(process.execPath, [script, 'majority:LOCKS'], {
        env: {
          ...process.env,
          LOCKS: [live[0], `redis://127.0.0.1:${deadPort}`, live[1]].join(','),
          WAIT_TIMEOUT_SECONDS: '30',
        },
        timeoutMs: 20_000,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.ok(Date.now() - started < 10_000);
      const one = await runCommand(process.execPath, [script, 'majority:LOCKS'], {
        env: { ...process.env, LOCKS: `${live[0]},redis://127.0.0.1:${deadPort}`, WAIT_TIMEOUT_SECONDS: '1' },
        timeoutMs: 20_000,
      });
      assert.equal(one.code, 1, 'one of two is no majority');
    } finally {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
    }
  });

  it('gives up with exit code 1 when nothing listens before WAIT_TIMEOUT_SECONDS', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const started = Date.now();
    const result = await runCommand(process.execPath, [script, `127.0.0.1:${port}`], {
      env: { ...process.env, WAIT_TIMEOUT_SECONDS: '1' },
      timeoutMs: 20_000,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.ok(Date.now() - started < 10_000);
  });
});
