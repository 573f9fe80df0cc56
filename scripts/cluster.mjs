// `npm run cluster`: a real one-node Kubernetes 1.33 on this machine with kubescaler applied to it.
// Installs and builds what is missing (the Debian packages of the node, the Kubernetes binaries,
// CoreDNS and metrics-server once from the Go module proxy, the images from the project's own
// Dockerfile and Debian packages; all cached in .cache/), then starts the control plane (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler), the node (containerd + runc with the
// CNI bridge, kubelet, kube-proxy in iptables mode) on a bridge of its own whose pod traffic may
// not leave the machine, the add-ons (CoreDNS without upstream, metrics-server, local storage),
// applies k8s/overlays/local server-side — every pod in a real container — and serves its
// Ingresses with nginx. Once both HPAs report real targets it prints KUBECONFIG=<path>,
// `kubectl get hpa -n kubescaler` and the web client's address. Runs until Ctrl-C / SIGTERM, then
// stops everything and undoes every host change (also those of a run that crashed, at the next
// start). One cluster per machine: a second run refuses. See docs/cluster.md.
//
// Environment: CLUSTER_NAME (dev: run directory .cache/cluster/run/<name>), CLUSTER_PORT_BASE
// (unset: free ports; else this port and the next 9), CLUSTER_POD_CIDR (10.244.0.0/24),
// CLUSTER_SERVICE_CIDR (10.96.0.0/24), CLUSTER_BRIDGE (kubescaler0), ADMIN_TOKEN /
// AUTH_JWT_SECRET / INTERNAL_TOKEN (unset: k8s/overlays/local/*.env, generated when missing).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { ensureImages } from './cluster/images.mjs';
import { startIngress } from './cluster/ingress.mjs';
import { CLUSTER_CACHE, COREDNS_VERSION, ensureClusterTools, METRICS_SERVER_VERSION } from './cluster/tools.mjs';
import { ensureDebianCommand, ensureDebianPackages, findOnPath } from '../libs/infra/apt.mjs';
import { freePort } from '../libs/infra/ports.mjs';
import { ensureK8sTools } from './k8s-tools.mjs';
import { build, ensureDependencies, log, ROOT } from './lib/project.mjs';
import { Stack } from './lib/stack.mjs';

const OVERLAY = path.join(ROOT, 'k8s', 'overlays', 'local');

const stack = new Stack();
stack.stopOnSignals((signal) => log(`${signal}: stopping the cluster…`));

const name = process.env.CLUSTER_NAME ?? 'dev';
try {
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(name))
    throw new Error('CLUSTER_NAME must be lower-case letters, digits and dashes');
  if (process.getuid?.() !== 0) throw new Error('npm run cluster needs root (a kubelet, containerd and iptables)');
  const network = planNetwork();
  await ensureDependencies();
  await build();
  const { HostGuard } = await import('./cluster/dist/host.js');
  const { LocalCluster } = await import('./cluster/dist/cluster.js');
  const { PORT_NAMES } = await import('./cluster/dist/control-plane.js');
  const host = await HostGuard.acquire(ROOT, (line) => log(`[cluster] ${line}`));
  stack.push('host changes', () => host.release());
  const [tools, k8sTools, nodeBinaries] = await Promise.all([
    ensureClusterTools(),
    ensureK8sTools(),
    ensureNodePackages(),
  ]);
  const images = await ensureImages({ root: ROOT, tools, log: (line) => log(`[images] ${line}`) });
  const ports = await planPorts(PORT_NAMES);
  const secrets = overlaySecrets();

  const cluster = new LocalCluster({
    root: ROOT,
    tools: { ...tools, ...nodeBinaries },
    kustomize: k8sTools.kustomize,
    dir: path.join(CLUSTER_CACHE, 'run', name),
    ports,
    network,
    images,
    addonVersions: { COREDNS_VERSION, METRICS_SERVER_VERSION },
    host,
    adminToken: secrets.adminToken,
    authSecret: secrets.authSecret,
    internalToken: secrets.internalToken,
    log: (line) => log(`[cluster] ${line}`),
  });
  stack.push('cluster', () => cluster.stop());
  await cluster.start();
  const ingress = await startIngress({
    api: cluster.api,
    root: ROOT,
    dir: path.join(CLUSTER_CACHE, 'run', name, 'ingress'),
    port: ports.ingress,
    log: (line) => log(`[cluster] ${line}`),
  });
  stack.push('ingress', () => ingress.stop());
  cluster.ingressUrl = ingress.url;
  cluster.mark(`ingress (nginx from the Ingress objects) on ${ingress.url}`);
  const stateFile = await cluster.writeState();
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));

  const hpa = await promisify(execFile)(tools.kubectl, [
    '--kubeconfig',
    state.kubeconfig,
    'get',
    'hpa',
    '-n',
    'kubescaler',
  ]);
  const services = state.services
    .filter((s) => s.namespace === 'kubescaler')
    .map((s) => `${s.name}:${s.port}→${s.address}`)
    .join('  ');
  console.log(`
KUBECONFIG=${state.kubeconfig}
${hpa.stdout.trimEnd()}

  web client   ${ingress.url}/   (the Ingresses, served by nginx)
  kubectl      export KUBECONFIG=${state.kubeconfig}  (kubectl ${tools.kubectl})
  Services     ${services}
  pods         real containers on ${network.podCidr} (bridge ${network.bridge}): kubectl get pods -n kubescaler -o wide
  logs         ${state.logs}  (logs/, manifests/; kubectl logs works)
  secrets      ${secrets.describe}
CLUSTER_STATE=${stateFile}
  up in ${state.timings.at(-1).seconds.toFixed(1)} s. Ctrl-C stops everything and undoes every host change.
`);
} catch (error) {
  console.error(`[kubescaler] cluster failed: ${error.stack ?? error.message}`);
  await stack.stopAll();
  process.exit(1);
}

/** The node's network from CLUSTER_POD_CIDR, CLUSTER_SERVICE_CIDR and CLUSTER_BRIDGE. */
function planNetwork() {
  const cidr = (variable, fallback) => {
    const value = process.env[variable] ?? fallback;
    const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.0\/24$/.exec(value);
    if (!match || match.slice(1).some((n) => Number(n) > 255))
      throw new Error(`${variable} must be an IPv4 /24 (a.b.c.0/24), got ${value}`);
    return value;
  };
  const podCidr = cidr('CLUSTER_POD_CIDR', '10.244.0.0/24');
  const serviceCidr = cidr('CLUSTER_SERVICE_CIDR', '10.96.0.0/24');
  if (podCidr === serviceCidr) throw new Error('CLUSTER_POD_CIDR and CLUSTER_SERVICE_CIDR must differ');
  const bridge = process.env.CLUSTER_BRIDGE ?? 'kubescaler0';
  if (!/^[a-z][a-z0-9]{0,14}$/.test(bridge)) throw new Error('CLUSTER_BRIDGE must be a short interface name');
  const prefix = (c) => c.split('.').slice(0, 3).join('.');
  return {
    bridge,
    podCidr,
    serviceCidr,
    nodeIp: `${prefix(podCidr)}.1`,
    dnsIp: `${prefix(serviceCidr)}.10`,
  };
}

/** containerd + runc, the CNI plugins, iptables and conntrack from Debian (apt, once). */
async function ensureNodePackages() {
  const packages = [
    { command: 'containerd', pkg: 'containerd' },
    { command: 'runc', pkg: 'runc' },
    { command: 'iptables', pkg: 'iptables' },
    { command: 'conntrack', pkg: 'conntrack' },
  ];
  const found = {};
  for (const { command, pkg } of packages) found[command] = await ensureDebianCommand({ command, pkg, log });
  // The bridge, host-local and loopback plugins containerd's CRI plugin runs (bin_dir /usr/lib/cni).
  await ensureDebianPackages({ packages: ['containernetworking-plugins'], log });
  return { containerd: found.containerd, ctr: await findOnPath('ctr'), iptables: found.iptables };
}

function numberEnv(name) {
  return process.env[name] ? Number(process.env[name]) : undefined;
}

/** CLUSTER_PORT_BASE and the next ports in order, or a free port for each. */
async function planPorts(names) {
  const base = numberEnv('CLUSTER_PORT_BASE');
  if (base !== undefined && !(Number.isInteger(base) && base > 1024 && base + names.length < 65536)) {
    throw new Error('CLUSTER_PORT_BASE must be a port number between 1025 and 65527');
  }
  const ports = {};
  for (const [index, portName] of names.entries()) {
    let port = base === undefined ? await freePort() : base + index;
    while (base === undefined && Object.values(ports).includes(port)) port = await freePort();
    ports[portName] = port;
  }
  return ports;
}

/**
 * The admin token and user-token secret: from ADMIN_TOKEN / AUTH_JWT_SECRET when set (they then
 * replace the overlay's Secrets for this run), else the overlay's git-ignored files, generated when
 * missing (as k8s/minikube-up.sh does for the minikube overlay).
 */
function overlaySecrets() {
  const files = {
    ADMIN_TOKEN: ['admin-token.env', 24],
    AUTH_JWT_SECRET: ['auth-secret.env', 32],
    INTERNAL_TOKEN: ['internal-token.env', 32],
  };
  for (const [variable, [file, bytes]] of Object.entries(files)) {
    const target = path.join(OVERLAY, file);
    if (existsSync(target)) continue;
    writeFileSync(target, `${variable}=${randomBytes(bytes).toString('hex')}\n`, { mode: 0o600 });
    log(`generated ${path.relative(ROOT, target)} (git-ignored)`);
  }
  const adminToken = process.env.ADMIN_TOKEN || undefined;
  const authSecret = process.env.AUTH_JWT_SECRET || undefined;
  const internalToken = process.env.INTERNAL_TOKEN || undefined;
  const describe =
    adminToken || authSecret || internalToken
      ? 'ADMIN_TOKEN / AUTH_JWT_SECRET / INTERNAL_TOKEN from the environment where set'
      : `k8s/overlays/local/admin-token.env, auth-secret.env and internal-token.env (Secrets kubescaler-admin, kubescaler-auth, kubescaler-internal)`;
  return { adminToken, authSecret, internalToken, describe };
}
