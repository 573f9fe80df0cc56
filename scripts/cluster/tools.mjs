// The Kubernetes binaries of `npm run cluster` and the cluster e2e, built once from the Go module
// proxy with the local Go toolchain and cached under .cache/cluster/ (binaries, Go module and
// build caches), pinned:
//   - kube-apiserver, kube-controller-manager, kube-scheduler, k8s.io/kubernetes v1.33.13
//     kubectl, kubelet, kube-proxy (the server's own version)
//   - CoreDNS (only the plugins the cluster's Corefile uses)    github.com/coredns/coredns v1.12.4
//   - metrics-server                                           sigs.k8s.io/metrics-server v0.8.0
//   - prometheus-adapter                                       sigs.k8s.io/prometheus-adapter v0.12.0
//   - Prometheus 3.5.1 (kubernetes_sd)                          github.com/prometheus/prometheus v0.305.1
//   - etcd from Debian's etcd-server, openssl from Debian (apt, like redis-server)
// Every part is built into a temporary directory and renamed into place, so an interrupted build
// never counts and the next run resumes from Go's caches. The parts build in parallel.
// `node scripts/cluster/tools.mjs` builds what is missing and prints the tools' paths as JSON.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { ensureDebianCommand, findOnPath } from '../../libs/infra/apt.mjs';
import { goCommand, installOnce, run } from '../k8s-tools.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLUSTER_CACHE = path.join(ROOT, '.cache', 'cluster');

export const KUBERNETES_VERSION = '1.33.13';
/** The staging modules (k8s.io/api, apimachinery, …) of that release. */
const STAGING_VERSION = '0.33.13';
/** Staging modules the proxy does not serve at STAGING_VERSION: only their go.mod is needed. */
const STAGING_EXCEPTIONS = {
  'k8s.io/code-generator': 'v0.33.0',
  'k8s.io/sample-apiserver': 'v0.33.5',
  'k8s.io/sample-cli-plugin': null,
  'k8s.io/sample-controller': null,
};
export const ADAPTER_VERSION = 'v0.12.0';
/** Prometheus 3.5.1: the Go module of Prometheus 3.x is versioned v0.3xx. */
export const PROMETHEUS_MODULE_VERSION = 'v0.305.1';
export const PROMETHEUS_VERSION = '3.5.1';
/** The cluster DNS: CoreDNS built with only the plugins the cluster's Corefile uses. */
export const COREDNS_VERSION = 'v1.12.4';
export const METRICS_SERVER_VERSION = 'v0.8.0';

const log = (line) => process.stderr.write(`[cluster-tools] ${line}\n`);
const seconds = (since) => `${((Date.now() - since) / 1000).toFixed(0)} s`;

function goEnv(extra = {}) {
  return {
    ...process.env,
    GOMODCACHE: path.join(CLUSTER_CACHE, 'go', 'mod'),
    GOCACHE: path.join(CLUSTER_CACHE, 'go', 'build'),
    GOPATH: path.join(CLUSTER_CACHE, 'go', 'path'),
    // Never download a toolchain; static binaries need no C compiler.
    GOTOOLCHAIN: 'local',
    CGO_ENABLED: '0',
    GOFLAGS: '-trimpath -buildvcs=false -mod=mod',
    ...extra,
  };
}

/** Downloads a module into the cluster's module cache and returns its (read-only) directory. */
async function downloadModule(go, module, version) {
  const output = await run(go, ['mod', 'download', '-json', `${module}@${version}`], {
    env: goEnv({ GOFLAGS: '-mod=mod' }),
    cwd: CLUSTER_CACHE,
  });
  const info = JSON.parse(output.slice(output.indexOf('{')));
  if (info.Error) throw new Error(`go mod download ${module}@${version}: ${info.Error}`);
  return info.Dir;
}

/** A writable copy of a module's source, for modules that only build inside their own directory. */
function writableCopy(dir, into) {
  rmSync(into, { recursive: true, force: true });
  cpSync(dir, into, { recursive: true });
  execFileSync('chmod', ['-R', 'u+w', into]);
}

/**
 * The scratch module that builds commands of k8s.io/kubernetes: that module cannot be
 * `go install`ed (its go.mod has replace directives), so this one requires it and replaces every
 * staging module with the published release. Returns its directory.
 */
async function kubernetesModule(go) {
  const kubernetesDir = await downloadModule(go, 'k8s.io/kubernetes', `v${KUBERNETES_VERSION}`);
  const ownGoMod = readFileSync(path.join(kubernetesDir, 'go.mod'), 'utf8');
  const replaceBlock = /^replace \(\n([\s\S]*?)^\)/m.exec(ownGoMod)?.[1] ?? '';
  const replaces = replaceBlock
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((module) => module && module.startsWith('k8s.io/'))
    .flatMap((module) => {
      const version = module in STAGING_EXCEPTIONS ? STAGING_EXCEPTIONS[module] : `v${STAGING_VERSION}`;
      return version ? [`\t${module} => ${module} ${version}`] : [];
    });
  if (replaces.length < 20)
    throw new Error(`unexpected replace block in k8s.io/kubernetes go.mod (${replaces.length})`);
  const moduleDir = path.join(CLUSTER_CACHE, 'src', `kubernetes-${KUBERNETES_VERSION}`);
  mkdirSync(moduleDir, { recursive: true });
  writeFileSync(
    path.join(moduleDir, 'go.mod'),
    `module local/kubescaler-cluster\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes v${KUBERNETES_VERSION}\n\nreplace (\n${replaces.join('\n')}\n)\n`,
  );
  const commands = KUBERNETES_COMMANDS.map((name) => `k8s.io/kubernetes/cmd/${name}@v${KUBERNETES_VERSION}`);
  await run(go, ['get', ...commands], { cwd: moduleDir, env: goEnv() });
  return moduleDir;
}

const KUBERNETES_COMMANDS = [
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubectl',
  'kubelet',
  'kube-proxy',
];

/** Version-stamped commands of k8s.io/kubernetes (without the stamp the server says v0.0.0-master and kubectl's skew check fails). */
async function buildKubernetesCommands(go, out, names) {
  const moduleDir = await kubernetesModule(go);
  const [major, minor] = KUBERNETES_VERSION.split('.');
  const v = 'k8s.io/component-base/version';
  const ldflags = [
    '-s -w',
    `-X ${v}.gitVersion=v${KUBERNETES_VERSION}`,
    `-X ${v}.gitMajor=${major}`,
    `-X ${v}.gitMinor=${minor}`,
    `-X ${v}.gitTreeState=clean`,
    `-X ${v}.buildDate=2025-01-01T00:00:00Z`,
  ].join(' ');
  const packages = names.map((name) => `k8s.io/kubernetes/cmd/${name}`);
  await run(go, ['build', `-ldflags=${ldflags}`, '-o', `${out}/`, ...packages], { cwd: moduleDir, env: goEnv() });
}

async function buildAdapter(go, out) {
  // `go install …@v0.12.0` fails here (the proxy refuses the module's version list, which the
  // deprecation check needs): build inside a copy of the module instead.
  const dir = await downloadModule(go, 'sigs.k8s.io/prometheus-adapter', ADAPTER_VERSION);
  const src = path.join(CLUSTER_CACHE, 'src', `prometheus-adapter-${ADAPTER_VERSION}`);
  writableCopy(dir, src);
  await run(go, ['build', '-ldflags=-s -w', '-o', path.join(out, 'prometheus-adapter'), './cmd/adapter'], {
    cwd: src,
    env: goEnv(),
  });
}

async function buildPrometheus(go, out) {
  // Debian's prometheus (2.42) is built without kubernetes_sd, which the project's scrape config uses.
  const dir = await downloadModule(go, 'github.com/prometheus/prometheus', PROMETHEUS_MODULE_VERSION);
  const src = path.join(CLUSTER_CACHE, 'src', `prometheus-${PROMETHEUS_MODULE_VERSION}`);
  writableCopy(dir, src);
  const p = 'github.com/prometheus/common/version';
  const ldflags = `-s -w -X ${p}.Version=${PROMETHEUS_VERSION} -X ${p}.Branch=release -X ${p}.Revision=module`;
  // Only the kubernetes service discovery is compiled in, as Prometheus's own `make plugins` does
  // for a plugins.yml that lists it alone (the others pull in every cloud provider's SDK).
  writeFileSync(
    path.join(src, 'plugins', 'plugins.go'),
    'package plugins\n\nimport (\n\t_ "github.com/prometheus/prometheus/discovery/kubernetes"\n)\n',
  );
  await run(go, ['build', `-ldflags=${ldflags}`, '-o', path.join(out, 'prometheus'), './cmd/prometheus'], {
    cwd: src,
    env: goEnv(),
  });
}

/**
 * The plugins compiled into CoreDNS (directive, package under plugin/), in the order of its own
 * plugin.cfg (the order they run in).
 */
const COREDNS_PLUGINS = [
  ['reload', 'reload'],
  ['ready', 'ready'],
  ['health', 'health'],
  ['prometheus', 'metrics'],
  ['errors', 'errors'],
  ['log', 'log'],
  ['loadbalance', 'loadbalance'],
  ['cache', 'cache'],
  ['kubernetes', 'kubernetes'],
];

async function buildCoreDns(go, out) {
  // CoreDNS's own main with every plugin pulls in each cloud provider's SDK; a main of our own
  // registers the few the cluster's Corefile names (CoreDNS's documented way to trim a build).
  const src = path.join(CLUSTER_CACHE, 'src', `coredns-${COREDNS_VERSION}`);
  rmSync(src, { recursive: true, force: true });
  mkdirSync(src, { recursive: true });
  writeFileSync(path.join(src, 'go.mod'), 'module local/kubescaler-coredns\n\ngo 1.24.0\n');
  const imports = COREDNS_PLUGINS.map(([, pkg]) => `\t_ "github.com/coredns/coredns/plugin/${pkg}"`).join('\n');
  writeFileSync(
    path.join(src, 'main.go'),
    `package main\n\nimport (\n\t"github.com/coredns/coredns/core/dnsserver"\n\t"github.com/coredns/coredns/coremain"\n${imports}\n)\n\n` +
      `func init() {\n\tdnsserver.Directives = []string{${COREDNS_PLUGINS.map(([directive]) => `"${directive}"`).join(', ')}}\n}\n\n` +
      'func main() {\n\tcoremain.Run()\n}\n',
  );
  await run(go, ['get', `github.com/coredns/coredns@${COREDNS_VERSION}`], { cwd: src, env: goEnv() });
  await run(go, ['mod', 'tidy'], { cwd: src, env: goEnv() });
  const ldflags = `-s -w -X github.com/coredns/coredns/coremain.GitCommit=${COREDNS_VERSION}`;
  await run(go, ['build', `-ldflags=${ldflags}`, '-o', path.join(out, 'coredns'), '.'], { cwd: src, env: goEnv() });
}

async function buildMetricsServer(go, out) {
  const dir = await downloadModule(go, 'sigs.k8s.io/metrics-server', METRICS_SERVER_VERSION);
  const src = path.join(CLUSTER_CACHE, 'src', `metrics-server-${METRICS_SERVER_VERSION}`);
  writableCopy(dir, src);
  const v = 'sigs.k8s.io/metrics-server/pkg/version';
  const ldflags = `-s -w -X ${v}.gitVersion=${METRICS_SERVER_VERSION} -X ${v}.gitCommit=module -X ${v}.buildDate=2025-01-01T00:00:00Z`;
  await run(go, ['build', `-ldflags=${ldflags}`, '-o', path.join(out, 'metrics-server'), './cmd/metrics-server'], {
    cwd: src,
    env: goEnv(),
  });
}

const CONTROL_PLANE = ['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'];
const NODE = ['kubelet', 'kube-proxy'];
const PARTS = [
  {
    name: `kubernetes-v${KUBERNETES_VERSION}`,
    build: (go, out) => buildKubernetesCommands(go, out, CONTROL_PLANE),
    bins: CONTROL_PLANE,
  },
  // After the control plane (same scratch module; its packages are then mostly in the build cache).
  {
    name: `kubectl-v${KUBERNETES_VERSION}`,
    after: `kubernetes-v${KUBERNETES_VERSION}`,
    build: (go, out) => buildKubernetesCommands(go, out, ['kubectl']),
    bins: ['kubectl'],
  },
  {
    name: `kubernetes-node-v${KUBERNETES_VERSION}`,
    after: `kubectl-v${KUBERNETES_VERSION}`,
    build: (go, out) => buildKubernetesCommands(go, out, NODE),
    bins: NODE,
  },
  { name: `coredns-${COREDNS_VERSION}`, build: buildCoreDns, bins: ['coredns'] },
  { name: `metrics-server-${METRICS_SERVER_VERSION}`, build: buildMetricsServer, bins: ['metrics-server'] },
  { name: `prometheus-adapter-${ADAPTER_VERSION}`, build: buildAdapter, bins: ['prometheus-adapter'] },
  { name: `prometheus-${PROMETHEUS_VERSION}`, build: buildPrometheus, bins: ['prometheus'] },
];

/** Builds every missing part (in parallel), installs etcd, and returns {binary name: path}. */
export async function ensureClusterTools() {
  mkdirSync(path.join(CLUSTER_CACHE, 'bin'), { recursive: true });
  const go = goCommand();
  const started = Date.now();
  const missing = PARTS.filter((part) => !existsSync(path.join(CLUSTER_CACHE, 'bin', part.name, '.installed')));
  if (missing.length) log(`building ${missing.map((p) => p.name).join(', ')} (one time, several minutes)…`);
  const etcd = ensureDebianCommand({ command: 'etcd', pkg: 'etcd-server', log });
  const openssl = ensureDebianCommand({ command: 'openssl', pkg: 'openssl', log });
  const done = new Map();
  for (const part of PARTS) {
    const previous = part.after ? done.get(part.after) : Promise.resolve();
    done.set(
      part.name,
      previous.then(() =>
        installOnce(path.join(CLUSTER_CACHE, 'bin', part.name), '.installed', async (temp) => {
          const partStarted = Date.now();
          await part.build(go, temp);
          for (const bin of part.bins) chmodSync(path.join(temp, bin), 0o755);
          log(`${part.name} built in ${seconds(partStarted)}`);
        }),
      ),
    );
  }
  await Promise.all([etcd, openssl, ...done.values()]);
  if (missing.length) log(`cluster tools ready in ${seconds(started)}`);
  const tools = { etcd: await findOnPath('etcd'), openssl: await findOnPath('openssl') };
  for (const part of PARTS) for (const bin of part.bins) tools[bin] = path.join(CLUSTER_CACHE, 'bin', part.name, bin);
  return tools;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.stdout.write(`${JSON.stringify(await ensureClusterTools(), null, 2)}\n`);
  } catch (error) {
    log(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(1);
  }
}
