import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import type { KubeObject } from './kube-api.js';
import { ManagedProcess } from './processes.js';

/** Where the local Prometheus finds the API server, and who it is there. */
export interface ApiServerAccess {
  readonly server: string;
  readonly caFile: string;
  /** A token of the ServiceAccount the manifests give the component (so their RBAC is what applies). */
  readonly tokenFile: string;
}

/**
 * The manifests' Prometheus configuration (`prometheus.yml` of the ConfigMap `configMap`) made to
 * run outside a pod: every kubernetes_sd_config gets the API server address, its CA and the
 * ServiceAccount token a pod would have mounted, and `own_namespace` becomes the ConfigMap's own
 * namespace (the namespace the pod would run in). Everything else is left exactly as it is.
 */
export function localPrometheusConfig(configMap: KubeObject, access: ApiServerAccess): string {
  const text = configMap.data?.['prometheus.yml'];
  if (!text) throw new Error(`ConfigMap ${configMap.metadata.name} has no prometheus.yml`);
  const config = parse(text);
  for (const job of config.scrape_configs ?? []) {
    for (const sd of job.kubernetes_sd_configs ?? []) {
      sd.api_server = access.server;
      sd.tls_config = { ...sd.tls_config, ca_file: access.caFile };
      sd.authorization = { type: 'Bearer', credentials_file: access.tokenFile };
      if (sd.namespaces?.own_namespace) {
        const { own_namespace: _own, ...rest } = sd.namespaces;
        sd.namespaces = { ...rest, names: [...(rest.names ?? []), configMap.metadata.namespace] };
      }
    }
  }
  return stringify(config);
}

/** prometheus-adapter's configuration: the manifests' rules plus the local resource rules (metrics.k8s.io). */
export function localAdapterConfig(rules: KubeObject, resourceRules: KubeObject): string {
  const base = parse(rules.data?.['config.yaml'] ?? '');
  const extra = parse(resourceRules.data?.['resource-rules.yaml'] ?? '');
  if (!base?.rules?.length) throw new Error(`ConfigMap ${rules.metadata.name} has no rules in config.yaml`);
  if (!extra?.resourceRules) throw new Error(`ConfigMap ${resourceRules.metadata.name} has no resourceRules`);
  return stringify({ ...base, resourceRules: extra.resourceRules });
}

/** The local Prometheus: the binary with the derived configuration, on 127.0.0.1:`port`. */
export function startPrometheus(
  binary: string,
  dir: string,
  config: string,
  port: number,
): { process: ManagedProcess; url: string } {
  mkdirSync(path.join(dir, 'data'), { recursive: true });
  const file = path.join(dir, 'prometheus.yml');
  writeFileSync(file, config);
  const process = ManagedProcess.start(
    'prometheus',
    binary,
    [
      `--config.file=${file}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      '--storage.tsdb.retention.time=2d',
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
    ],
    { logFile: path.join(dir, 'prometheus.log') },
  );
  return { process, url: `http://127.0.0.1:${port}` };
}

/** The local prometheus-adapter: an aggregated API server on 127.0.0.1:`port`, as its ServiceAccount. */
export function startAdapter(
  binary: string,
  dir: string,
  {
    config,
    port,
    prometheusUrl,
    kubeconfig,
    relistInterval,
  }: {
    config: string;
    port: number;
    prometheusUrl: string;
    kubeconfig: string;
    relistInterval: string;
  },
): ManagedProcess {
  mkdirSync(path.join(dir, 'certs'), { recursive: true });
  const file = path.join(dir, 'config.yaml');
  writeFileSync(file, config);
  return ManagedProcess.start(
    'prometheus-adapter',
    binary,
    [
      `--lister-kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${path.join(dir, 'certs')}`,
      `--config=${file}`,
      `--prometheus-url=${prometheusUrl}/`,
      `--metrics-relist-interval=${relistInterval}`,
      // Series seen within this age count as available: longer than a scrape interval, or a
      // metric vanishes between two scrapes (the default is the relist interval).
      '--metrics-max-age=60s',
      '--v=1',
    ],
    { logFile: path.join(dir, 'adapter.log') },
  );
}
