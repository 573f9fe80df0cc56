// The local cluster's ingress controller: Debian's nginx on the host, configured from the Ingress
// objects of class `nginx` as the API server holds them (not from a route table of our own), in
// front of the Services they name — through their ClusterIPs, which kube-proxy's rules lead to a
// Ready pod. Re-read every 2 s; nginx reloads (SIGHUP) when the configuration changes. The
// annotations it honours are ingress-nginx's own (`nginx.ingress.kubernetes.io/*`, defaults as
// ingress-nginx has them), so a path gets the directives ingress-nginx would give it.
import { writeFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

import { startNginx } from '../../libs/infra/nginx.mjs';
import { GATEWAY_TUNING, gatewayConfig, nginxSize } from '../lib/gateway.mjs';

const PREFIX = 'nginx.ingress.kubernetes.io/';

/**
 * The annotations honoured, each with the nginx directive it sets and ingress-nginx's default.
 * `proxy-buffers-number` sets `proxy_buffers <number> <proxy-buffer-size>`, as ingress-nginx does.
 */
export const INGRESS_ANNOTATIONS = Object.freeze([
  { annotation: 'proxy-buffering', directive: 'proxy_buffering', fallback: 'off' },
  { annotation: 'proxy-buffer-size', directive: 'proxy_buffer_size', fallback: '4k' },
  { annotation: 'proxy-buffers-number', directive: 'proxy_buffers', fallback: '4' },
  { annotation: 'proxy-request-buffering', directive: 'proxy_request_buffering', fallback: 'on' },
  { annotation: 'proxy-read-timeout', directive: 'proxy_read_timeout', fallback: '60', seconds: true },
  { annotation: 'proxy-send-timeout', directive: 'proxy_send_timeout', fallback: '60', seconds: true },
  { annotation: 'proxy-connect-timeout', directive: 'proxy_connect_timeout', fallback: '5', seconds: true },
  { annotation: 'proxy-next-upstream', directive: 'proxy_next_upstream', fallback: 'error timeout' },
  { annotation: 'proxy-next-upstream-tries', directive: 'proxy_next_upstream_tries', fallback: '3' },
  { annotation: 'proxy-http-version', directive: 'proxy_http_version', fallback: '1.1' },
  { annotation: 'proxy-body-size', directive: 'client_max_body_size', fallback: '1m' },
]);

/** ingress-nginx's denylist of every address: the path answers 403. */
const DENY_ALL = /^\s*0\.0\.0\.0\/0\s*(,\s*::\/0\s*)?$/;

function directivesOf(annotations = {}) {
  const value = (entry) => annotations[PREFIX + entry.annotation] ?? entry.fallback;
  const directives = {};
  for (const entry of INGRESS_ANNOTATIONS) {
    let v = value(entry);
    if (entry.directive === 'proxy_buffers') v = `${v} ${value(INGRESS_ANNOTATIONS[1])}`;
    if (entry.seconds && /^\d+$/.test(v)) v = `${v}s`;
    directives[entry.directive] = v;
  }
  return directives;
}

/**
 * The gateway routes and upstreams of every Ingress of class `nginx` (rules without a host, as
 * ours are), each backend resolved to its Service's ClusterIP and port. Paths of the same
 * value in two Ingresses: the older Ingress wins, as in ingress-nginx.
 */
export function ingressRoutes(ingresses, services) {
  const byName = new Map(services.map((s) => [`${s.metadata.namespace}/${s.metadata.name}`, s]));
  const routes = [];
  const upstreams = new Map();
  const sorted = [...ingresses]
    .filter((i) => i.spec?.ingressClassName === 'nginx')
    .sort((a, b) => String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)));
  for (const ingress of sorted) {
    const annotations = ingress.metadata.annotations ?? {};
    const deny = DENY_ALL.test(annotations[`${PREFIX}denylist-source-range`] ?? '');
    for (const rule of ingress.spec.rules ?? []) {
      if (rule.host) continue;
      for (const p of rule.http?.paths ?? []) {
        const exact = p.pathType === 'Exact';
        const routePath = p.path.length > 1 ? p.path.replace(/\/+$/, '') : '/';
        if (routes.some((r) => r.path === routePath && !!r.exact === exact)) continue;
        if (deny) {
          routes.push({ path: routePath, exact, deny: true });
          continue;
        }
        const namespace = ingress.metadata.namespace;
        const service = byName.get(`${namespace}/${p.backend.service.name}`);
        const wanted = p.backend.service.port;
        const port = service?.spec.ports.find((sp) =>
          wanted.name ? sp.name === wanted.name : sp.port === wanted.number,
        );
        if (!service || !port || !service.spec.clusterIP || service.spec.clusterIP === 'None') continue;
        const name = `${namespace}_${service.metadata.name}_${port.port}`;
        upstreams.set(name, { name, urls: [`http://${service.spec.clusterIP}:${port.port}`], keepalive: 0 });
        routes.push({ path: routePath, exact, upstream: name, directives: directivesOf(annotations) });
      }
    }
  }
  return { routes, upstreams: [...upstreams.values()] };
}

/**
 * Starts nginx on `host:port` configured from the cluster's Ingresses (read through `api`, a
 * KubeApi); resolves to `{url, dir, stop()}` once the first configuration with routes is served.
 */
export async function startIngress({ api, root, dir, host = '127.0.0.1', port, log = () => {} }) {
  await fs.rm(dir, { recursive: true, force: true });
  const read = async () => {
    const [ingresses, services] = await Promise.all([
      api.get('/apis/networking.k8s.io/v1/ingresses'),
      api.get('/api/v1/services'),
    ]);
    const { routes, upstreams } = ingressRoutes(ingresses.items, services.items);
    if (routes.length === 0) return undefined;
    // An nginx with no upstream of a kind is valid, but gatewayConfig wants every upstream used.
    return (workDir) => gatewayConfig({ dir: workDir, host, port, routes, upstreams });
  };
  let config;
  for (const deadline = Date.now() + 120_000; !(config = await read());) {
    if (Date.now() > deadline) throw new Error('no Ingress of class nginx with routes appeared within 120 s');
    await new Promise((r) => setTimeout(r, 1000));
  }
  const nginx = await startNginx({
    dir,
    host,
    port,
    label: 'cluster ingress',
    log,
    upstreamRcvbuf: {
      bytes: nginxSize(GATEWAY_TUNING.upstreamRcvbuf),
      cacheDir: path.join(root, '.cache', 'nginx', 'upstream-rcvbuf'),
    },
    config,
  });
  let current = config(dir);
  const confFile = path.join(dir, 'nginx.conf');
  let stopped = false;
  const timer = setInterval(async () => {
    try {
      const next = await read();
      const text = next?.(dir);
      if (stopped || !text || text === current) return;
      writeFileSync(confFile, text);
      current = text;
      process.kill(nginx.pid, 'SIGHUP');
      log('cluster ingress: Ingresses or Services changed; nginx reloaded');
    } catch {
      // the API server is briefly unavailable (or stopping): keep the configuration in force
    }
  }, 2000);
  return {
    url: `http://${host}:${port}`,
    dir,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await nginx.stop();
    },
  };
}
