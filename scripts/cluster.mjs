// `npm run cluster`: a real Kubernetes control plane on this machine with kubescaler applied to it.
// Installs and builds what is missing (the control plane once, cached in .cache/cluster/), provides
// Cassandra and Redis like `npm start` (or uses CASSANDRA_CONTACT_POINTS / REDIS_URL), starts etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, KWOK with one node whose pods are real
// processes of the compiled apps (test/cluster/kubelet.ts), applies k8s/overlays/local server-side,
// starts Prometheus and prometheus-adapter with that overlay's configuration, and once both HPAs
// report real targets prints KUBECONFIG=<path> and `kubectl get hpa -n kubescaler`. Runs until
// Ctrl-C / SIGTERM, then stops everything it started. See docs/cluster.md.
//
// Environment: CLUSTER_NAME (dev: run directory .cache/cluster/run/<name>), CLUSTER_PORT_BASE
// (unset: free ports; else this port and the next 7), CLUSTER_POD_CIDR (127.0.2.0/24),
// ADMIN_TOKEN / AUTH_JWT_SECRET (unset: k8s/overlays/local/*.env, generated when missing),
// CASSANDRA_* / REDIS_* as for `npm start`.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { CLUSTER_CACHE, ensureClusterTools } from './cluster/tools.mjs';
import { freePort } from './infra/ports.mjs';
import { acquireRunLock } from './infra/run-lock.mjs';
import { ensureK8sTools } from './k8s-tools.mjs';
import { provideInfra } from './lib/infra.mjs';
import { build, ensureDependencies, log, ROOT } from './lib/project.mjs';
import { Stack } from './lib/stack.mjs';

const OVERLAY = path.join(ROOT, 'k8s', 'overlays', 'local');

const stack = new Stack();
stack.stopOnSignals((signal) => log(`${signal}: stopping the cluster…`));

const name = process.env.CLUSTER_NAME ?? 'dev';
try {
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(name))
    throw new Error('CLUSTER_NAME must be lower-case letters, digits and dashes');
  const podCidr = process.env.CLUSTER_POD_CIDR ?? '127.0.2.0/24';
  if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}\/(2[0-9]|30)$/.test(podCidr)) {
    throw new Error(`CLUSTER_POD_CIDR must be a loopback range (127.x.y.z/20 to /30), got ${podCidr}`);
  }
  stack.push('run lock', acquireRunLock(ROOT, `cluster-${name}`));
  await ensureDependencies();
  await build();
  const { LocalCluster } = await import('../test/dist/cluster/cluster.js');
  const { PORT_NAMES } = await import('../test/dist/cluster/control-plane.js');
  const [tools, k8sTools, infraEnv] = await Promise.all([
    ensureClusterTools(),
    ensureK8sTools(),
    provideInfra(stack, {
      name: `cluster-${name}`,
      cqlPort: numberEnv('CASSANDRA_PORT'),
      storagePort: numberEnv('CASSANDRA_STORAGE_PORT'),
      redisPort: numberEnv('REDIS_PORT'),
    }),
  ]);
  const ports = await planPorts(PORT_NAMES);
  const secrets = overlaySecrets();
  const cassandra = (infraEnv.CASSANDRA_CONTACT_POINTS ?? process.env.CASSANDRA_CONTACT_POINTS).split(',')[0];
  const redisUrl = new URL(infraEnv.REDIS_URL ?? process.env.REDIS_URL);

  const cluster = new LocalCluster({
    root: ROOT,
    tools,
    kustomize: k8sTools.kustomize,
    dir: path.join(CLUSTER_CACHE, 'run', name),
    ports,
    podCidr,
    cassandra: cassandra.includes(':') ? cassandra : `${cassandra}:9042`,
    redis: `${redisUrl.hostname}:${redisUrl.port || 6379}`,
    adminToken: secrets.adminToken,
    authSecret: secrets.authSecret,
    log: (line) => log(`[cluster] ${line}`),
  });
  stack.push('cluster', () => cluster.stop());
  await cluster.start();

  const state = cluster.state();
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
    .map((s) => `${s.name}:${s.port}→${s.local}`)
    .join('  ');
  console.log(`
KUBECONFIG=${state.kubeconfig}
${hpa.stdout.trimEnd()}

  kubectl      export KUBECONFIG=${state.kubeconfig}  (kubectl ${tools.kubectl})
  Prometheus   ${state.prometheus}
  Services     ${services}
  pods         real processes on ${podCidr}: kubectl get pods -n kubescaler -o wide
  logs         ${state.logs}  (pods/<namespace>_<pod>/<container>.log, logs/, monitoring/)
  secrets      ${secrets.describe}
CLUSTER_STATE=${path.join(state.logs, 'cluster.json')}
  up in ${state.timings.at(-1).seconds.toFixed(1)} s. Ctrl-C stops everything.
`);
} catch (error) {
  console.error(`[kubescaler] cluster failed: ${error.stack ?? error.message}`);
  await stack.stopAll();
  process.exit(1);
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
  const files = { ADMIN_TOKEN: ['admin-token.env', 24], AUTH_JWT_SECRET: ['auth-secret.env', 32] };
  for (const [variable, [file, bytes]] of Object.entries(files)) {
    const target = path.join(OVERLAY, file);
    if (existsSync(target)) continue;
    writeFileSync(target, `${variable}=${randomBytes(bytes).toString('hex')}\n`, { mode: 0o600 });
    log(`generated ${path.relative(ROOT, target)} (git-ignored)`);
  }
  const adminToken = process.env.ADMIN_TOKEN || undefined;
  const authSecret = process.env.AUTH_JWT_SECRET || undefined;
  const describe =
    adminToken || authSecret
      ? 'ADMIN_TOKEN / AUTH_JWT_SECRET from the environment'
      : `k8s/overlays/local/admin-token.env and auth-secret.env (Secrets kubescaler-admin, kubescaler-auth)`;
  return { adminToken, authSecret, describe };
}
