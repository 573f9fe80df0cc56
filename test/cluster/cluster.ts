import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type ClusterPorts, type ClusterTools, ControlPlane } from './control-plane.js';
import { Kubelet } from './kubelet.js';
import type { KubeObject } from './kube-api.js';
import { applyServerSide, findObject, render, runKustomization } from './manifests.js';
import { localAdapterConfig, localPrometheusConfig, startAdapter, startPrometheus } from './monitoring.js';
import { type ManagedProcess, waitUntil } from './processes.js';
import { ServiceProxy, type ServiceEndpoint } from './service-proxy.js';

export const NAMESPACE = 'kubescaler';
export const NODE_NAME = 'kwok-node-0';

export interface LocalClusterOptions {
  /** The checkout (k8s/overlays/local, the compiled apps). */
  readonly root: string;
  readonly tools: ClusterTools;
  readonly kustomize: string;
  /** The run directory (wiped at start). */
  readonly dir: string;
  readonly ports: ClusterPorts;
  readonly podCidr: string;
  /** Where the Services without pods lead: `host:port` of the local Cassandra and Redis. */
  readonly cassandra: string;
  readonly redis: string;
  /** The run's own secrets, replacing the overlay's generated ones (tests). */
  readonly adminToken?: string;
  readonly authSecret?: string;
  readonly log: (line: string) => void;
}

/** What `cluster.json` in the run directory says about a running local cluster. */
export interface ClusterState {
  readonly kubeconfig: string;
  readonly kubectl: string;
  readonly server: string;
  /** The admin client certificate (system:masters). */
  readonly admin: { caFile: string; certFile: string; keyFile: string };
  readonly prometheus: string;
  readonly services: ServiceEndpoint[];
  readonly podCidr: string;
  readonly timings: Array<{ step: string; seconds: number }>;
  readonly logs: string;
}

/**
 * The whole local cluster: control plane, KWOK node, the kubelet and kube-proxy stand-ins,
 * k8s/overlays/local applied server-side, and the local Prometheus and prometheus-adapter.
 */
export class LocalCluster {
  readonly timings: Array<{ step: string; seconds: number }> = [];
  readonly controlPlane: ControlPlane;
  proxy: ServiceProxy | undefined;
  kubelet: Kubelet | undefined;
  objects: KubeObject[] = [];
  applyOutput = { namespaces: '', dryRun: '', apply: '' };
  private readonly monitoring: ManagedProcess[] = [];
  private readonly started = performance.now();
  prometheusUrl = '';

  constructor(private readonly options: LocalClusterOptions) {
    this.controlPlane = new ControlPlane({
      tools: options.tools,
      dir: options.dir,
      ports: options.ports,
      podCidr: options.podCidr,
      podStages: readFileSync(path.join(options.root, 'test', 'cluster', 'kwok-pod-stage.yaml'), 'utf8'),
      nodeName: NODE_NAME,
      log: options.log,
      mark: (step) => this.mark(step),
    });
  }

  get kubeconfig(): string {
    return this.controlPlane.kubeconfig;
  }

  mark(step: string): void {
    const seconds = Number(((performance.now() - this.started) / 1000).toFixed(1));
    this.timings.push({ step, seconds });
    this.options.log(`${seconds.toFixed(1).padStart(6)} s  ${step}`);
  }

  /** Brings everything up; resolves once both HPAs report current metrics. */
  async start(): Promise<void> {
    const { options } = this;
    await this.controlPlane.start();
    const api = this.controlPlane.api;
    this.proxy = new ServiceProxy(
      api,
      { [`${NAMESPACE}/cassandra`]: options.cassandra, [`${NAMESPACE}/redis-a`]: options.redis },
      options.log,
    );
    await this.proxy.start();
    this.kubelet = new Kubelet({
      api,
      nodeName: NODE_NAME,
      root: options.root,
      dataDir: path.join(options.dir, 'pods'),
      resolveService: (service, port) => this.proxy!.resolve(service, port),
      log: options.log,
    });
    await this.kubelet.start();

    const manifests = path.join(options.dir, 'manifests');
    const wiring = runKustomization(manifests, path.join(options.root, 'k8s', 'overlays', 'local'), {
      adapterPort: options.ports.adapter,
      adminToken: options.adminToken,
      authSecret: options.authSecret,
    });
    const rendered = await render(options.kustomize, wiring);
    this.objects = rendered.objects;
    this.applyOutput = await applyServerSide(options.tools.kubectl, this.kubeconfig, manifests, rendered);
    this.mark(`k8s/overlays/local applied server-side (dry run first): ${rendered.objects.length} objects`);

    await this.startMonitoring();
    await this.waitForAvailableApis();
    this.mark('prometheus-adapter serves custom.metrics.k8s.io and metrics.k8s.io');
    await this.waitForRollout();
    this.mark('base, main and stream Ready; migration Job complete');
    await this.waitForHpaTargets();
    this.mark('both HPAs report current metrics');
    this.writeState();
  }

  private async startMonitoring(): Promise<void> {
    const { options } = this;
    const dir = path.join(options.dir, 'monitoring');
    mkdirSync(dir, { recursive: true });
    // As their ServiceAccounts, so the manifests' RBAC is what lets them in.
    const [prometheusToken, adapterKubeconfig] = await Promise.all([
      this.controlPlane.serviceAccountToken(NAMESPACE, 'prometheus', path.join(dir, 'prometheus.token')),
      this.controlPlane.serviceAccountKubeconfig(NAMESPACE, 'prometheus-adapter'),
    ]);
    const prometheus = startPrometheus(
      options.tools.prometheus,
      path.join(dir, 'prometheus'),
      localPrometheusConfig(findObject(this.objects, 'ConfigMap', 'prometheus-config', true), {
        server: this.controlPlane.server,
        caFile: this.controlPlane.pki.caCert,
        tokenFile: prometheusToken,
      }),
      options.ports.prometheus,
    );
    this.prometheusUrl = prometheus.url;
    this.monitoring.push(prometheus.process);
    this.monitoring.push(
      startAdapter(options.tools['prometheus-adapter'], path.join(dir, 'adapter'), {
        config: localAdapterConfig(
          findObject(this.objects, 'ConfigMap', 'prometheus-adapter-config', true),
          findObject(this.objects, 'ConfigMap', 'prometheus-adapter-resource-rules', true),
        ),
        port: options.ports.adapter,
        prometheusUrl: prometheus.url,
        kubeconfig: adapterKubeconfig,
        relistInterval: '5s',
      }),
    );
    await waitUntil('Prometheus ready', async () => (await fetch(`${prometheus.url}/-/ready`)).ok, {
      timeoutMs: 120_000,
      alive: prometheus.process,
    });
    this.mark('Prometheus and prometheus-adapter started');
  }

  private async waitForAvailableApis(): Promise<void> {
    const api = this.controlPlane.api;
    for (const name of ['v1beta1.custom.metrics.k8s.io', 'v1beta1.metrics.k8s.io']) {
      await waitUntil(
        `APIService ${name} Available`,
        async () => {
          const service = await api.get(`/apis/apiregistration.k8s.io/v1/apiservices/${name}`);
          return service.status?.conditions?.some((c: any) => c.type === 'Available' && c.status === 'True');
        },
        { timeoutMs: 180_000, everyMs: 500, alive: this.monitoring[1] },
      );
    }
  }

  private async waitForRollout(): Promise<void> {
    const api = this.controlPlane.api;
    await Promise.all([
      ...['base', 'main', 'stream'].map((name) =>
        waitUntil(
          `Deployment ${name} ready`,
          async () =>
            ((await api.get(`/apis/apps/v1/namespaces/${NAMESPACE}/deployments/${name}`)).status?.readyReplicas ?? 0) >=
            1,
          { timeoutMs: 300_000, everyMs: 500 },
        ),
      ),
      waitUntil(
        'Job migrate complete',
        async () => {
          const job = await api.get(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/migrate`);
          if (job.status?.conditions?.some((c: any) => c.type === 'Failed' && c.status === 'True')) {
            throw new Error('the migration Job failed');
          }
          return job.status?.conditions?.some((c: any) => c.type === 'Complete' && c.status === 'True');
        },
        { timeoutMs: 300_000, everyMs: 500 },
      ),
    ]);
  }

  /** Both HPAs carry a current value for every metric (a real target in `kubectl get hpa`). */
  async waitForHpaTargets(timeoutMs = 300_000): Promise<void> {
    const api = this.controlPlane.api;
    await waitUntil(
      'HPAs main and stream report current metrics',
      async () => {
        const list = await api.get(`/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers`);
        const byName = new Map(list.items.map((hpa: KubeObject) => [hpa.metadata.name, hpa]));
        return ['main', 'stream'].every((name) => {
          const hpa: any = byName.get(name);
          const metrics = hpa?.status?.currentMetrics ?? [];
          return (
            metrics.length === hpa?.spec?.metrics?.length &&
            metrics.every(
              (m: any) =>
                m.resource?.current?.averageUtilization !== undefined || m.pods?.current?.averageValue !== undefined,
            )
          );
        });
      },
      { timeoutMs, everyMs: 1000 },
    );
  }

  /** The run's state, as `cluster.json` holds it. */
  state(): ClusterState {
    const pki = this.controlPlane.pki;
    return {
      kubeconfig: this.kubeconfig,
      kubectl: this.options.tools.kubectl,
      server: this.controlPlane.server,
      admin: { caFile: pki.caCert, certFile: pki.clients.admin.cert, keyFile: pki.clients.admin.key },
      prometheus: this.prometheusUrl,
      services: this.proxy?.endpoints() ?? [],
      podCidr: this.options.podCidr,
      timings: this.timings,
      logs: this.options.dir,
    };
  }

  private writeState(): void {
    writeFileSync(path.join(this.options.dir, 'cluster.json'), `${JSON.stringify(this.state(), null, 2)}\n`);
  }

  /**
   * Stops everything it started, by PID: first the controllers (so nothing recreates pods), then
   * the pods' processes (SIGTERM: streams drain and release their locks), then the rest.
   */
  async stop(): Promise<void> {
    this.controlPlane.stopping = true;
    const byName = (name: string) => this.controlPlane.processes.find((p) => p.name === name);
    await byName('kube-controller-manager')?.stop();
    await this.kubelet?.stop();
    await this.proxy?.stop();
    for (const child of [...this.monitoring].reverse()) await child.stop();
    await this.controlPlane.stop();
  }
}
