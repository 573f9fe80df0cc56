import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { type ClusterPorts, type ClusterTools, ControlPlane } from './control-plane.js';
import type { HostGuard } from './host.js';
import type { KubeObject } from './kube-api.js';
import { applyServerSide, render, runKustomization } from './manifests.js';
import { Node, type NodeBinaries, type NodeImage, type NodeNetwork } from './node.js';
import { NODE_NAME } from './pki.js';
import { execFileAsync, waitUntil } from './processes.js';

export const NAMESPACE = 'kubescaler';
export { NODE_NAME };

/** Versions the cluster add-ons' manifests name (their images are built locally). */
export interface AddonVersions {
  readonly COREDNS_VERSION: string;
  readonly METRICS_SERVER_VERSION: string;
}

export interface LocalClusterOptions {
  /** The checkout (k8s/overlays/local, scripts/cluster/addons). */
  readonly root: string;
  readonly tools: ClusterTools & NodeBinaries;
  readonly kustomize: string;
  /** The run directory (wiped at start). */
  readonly dir: string;
  readonly ports: ClusterPorts;
  readonly network: NodeNetwork;
  readonly images: readonly NodeImage[];
  readonly addonVersions: AddonVersions;
  readonly host: HostGuard;
  /** The run's own secrets, replacing the overlay's generated ones (tests). */
  readonly adminToken?: string;
  readonly authSecret?: string;
  readonly internalToken?: string;
  readonly log: (line: string) => void;
}

/** A Service as the host reaches it (through kube-proxy's rules for its ClusterIP). */
export interface ServiceAddress {
  readonly namespace: string;
  readonly name: string;
  readonly port: number;
  /** `clusterIP:port` */
  readonly address: string;
}

/** What `cluster.json` in the run directory says about a running local cluster. */
export interface ClusterState {
  readonly kubeconfig: string;
  readonly kubectl: string;
  readonly server: string;
  /** The admin client certificate (system:masters). */
  readonly admin: { caFile: string; certFile: string; keyFile: string };
  readonly services: ServiceAddress[];
  readonly network: NodeNetwork;
  readonly containerdSocket: string;
  readonly ingress: string;
  readonly timings: Array<{ step: string; seconds: number }>;
  readonly logs: string;
}

/** Local PersistentVolumes for the StatefulSets' claims (Cassandra 10Gi, Redis 1Gi, room for more). */
const LOCAL_VOLUMES = 4;
const LOCAL_VOLUME_SIZE = '10Gi';

/**
 * The whole local cluster: the control plane, one real node (containerd, kubelet, kube-proxy),
 * the cluster add-ons (CoreDNS, metrics-server, local storage) and k8s/overlays/local applied
 * server-side, every pod in a real container.
 */
export class LocalCluster {
  readonly timings: Array<{ step: string; seconds: number }> = [];
  readonly controlPlane: ControlPlane;
  readonly node: Node;
  objects: KubeObject[] = [];
  applyOutput = { namespaces: '', dryRun: '', apply: '' };
  ingressUrl = '';
  private readonly started = performance.now();

  constructor(private readonly options: LocalClusterOptions) {
    const mark = (step: string) => this.mark(step);
    this.controlPlane = new ControlPlane({
      tools: options.tools,
      dir: options.dir,
      ports: options.ports,
      network: options.network,
      track: (name, pid) => options.host.addProcess(name, pid),
      log: options.log,
      mark,
    });
    this.node = new Node({
      binaries: options.tools,
      network: options.network,
      host: options.host,
      dir: options.dir,
      ports: options.ports,
      images: options.images,
      log: options.log,
      mark,
    });
  }

  get kubeconfig(): string {
    return this.controlPlane.kubeconfig;
  }

  get api() {
    return this.controlPlane.api;
  }

  mark(step: string): void {
    const seconds = Number(((performance.now() - this.started) / 1000).toFixed(1));
    this.timings.push({ step, seconds });
    this.options.log(`${seconds.toFixed(1).padStart(6)} s  ${step}`);
  }

  /** Brings everything up; resolves once every workload is Ready and both HPAs report current metrics. */
  async start(): Promise<void> {
    const { options } = this;
    rmSync(options.dir, { recursive: true, force: true });
    mkdirSync(options.dir, { recursive: true });
    await this.node.createNetwork();
    this.mark(`bridge ${options.network.bridge} on ${options.network.podCidr}, pod traffic kept on it`);
    await Promise.all([this.node.startRuntime(), this.controlPlane.start()]);
    this.node.startAgents(this.controlPlane.pki, this.controlPlane.server);
    await this.waitForNode();
    this.mark(`node ${NODE_NAME} Ready`);

    await this.applyAddons();
    const manifests = path.join(options.dir, 'manifests');
    const app = options.images.find((image) => image.key === 'kubescaler');
    if (!app) throw new Error('no kubescaler image among the images');
    const wiring = runKustomization(manifests, path.join(options.root, 'k8s', 'overlays', 'local'), {
      images: [{ name: 'kubescaler', newTag: app.name.slice('kubescaler:'.length) }],
      adminToken: options.adminToken,
      authSecret: options.authSecret,
      internalToken: options.internalToken,
    });
    const rendered = await render(options.kustomize, wiring);
    this.objects = rendered.objects;
    this.applyOutput = await applyServerSide(options.tools.kubectl, this.kubeconfig, manifests, rendered);
    this.mark(`k8s/overlays/local applied server-side (dry run first): ${rendered.objects.length} objects`);

    await this.waitForRollout();
    this.mark('Cassandra, Redis, Prometheus, the adapter, base, main and stream Ready; migration Job complete');
    await this.waitForAvailableApis();
    this.mark('metrics-server and prometheus-adapter serve metrics.k8s.io and custom.metrics.k8s.io');
    await this.waitForHpaTargets();
    this.mark('both HPAs report current metrics');
  }

  private async waitForNode(): Promise<void> {
    const kubelet = this.node.processes.find((p) => p.name === 'kubelet');
    await waitUntil(
      `node ${NODE_NAME} Ready`,
      async () => {
        const node = await this.api.get(`/api/v1/nodes/${NODE_NAME}`);
        return node.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
      },
      { timeoutMs: 120_000, everyMs: 500, alive: kubelet },
    );
  }

  /** CoreDNS, metrics-server and the local storage, as a cluster's add-ons (scripts/cluster/addons). */
  private async applyAddons(): Promise<void> {
    const { options } = this;
    const dir = path.join(options.dir, 'addons');
    mkdirSync(dir, { recursive: true });
    const values: Record<string, string> = { DNS_IP: options.network.dnsIp, ...options.addonVersions };
    const addons = path.join(options.root, 'scripts', 'cluster', 'addons');
    const files = ['storage.yaml', 'coredns.yaml', 'metrics-server.yaml'].map((name) => {
      const text = readFileSync(path.join(addons, name), 'utf8').replace(/\$\{(\w+)\}/g, (_, key: string) => {
        if (!(key in values)) throw new Error(`${name}: no value for \${${key}}`);
        return values[key]!;
      });
      writeFileSync(path.join(dir, name), text);
      return path.join(dir, name);
    });
    const volumes = path.join(options.dir, 'volumes');
    const pvs = Array.from({ length: LOCAL_VOLUMES }, (_, index) => {
      const where = path.join(volumes, `pv-${index}`);
      mkdirSync(where, { recursive: true });
      return {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: `local-${index}` },
        spec: {
          capacity: { storage: LOCAL_VOLUME_SIZE },
          accessModes: ['ReadWriteOnce'],
          persistentVolumeReclaimPolicy: 'Retain',
          storageClassName: 'local',
          local: { path: where },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [NODE_NAME] }] },
              ],
            },
          },
        },
      };
    });
    writeFileSync(path.join(dir, 'volumes.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pvs }));
    files.push(path.join(dir, 'volumes.json'));
    for (const file of files) {
      await this.kubectl('apply', '--server-side', '--field-manager=kubescaler-local', '-f', file);
    }
    this.mark('add-ons applied: local storage, CoreDNS, metrics-server');
  }

  /** kubectl with the admin kubeconfig. */
  async kubectl(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(this.options.tools.kubectl, ['--kubeconfig', this.kubeconfig, ...args], {
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  }

  private async waitForRollout(): Promise<void> {
    const api = this.api;
    const ready = (kind: string, namespace: string, name: string) =>
      waitUntil(
        `${kind} ${namespace}/${name} ready`,
        async () =>
          ((await api.get(`/apis/apps/v1/namespaces/${namespace}/${kind}/${name}`)).status?.readyReplicas ?? 0) >= 1,
        { timeoutMs: 600_000, everyMs: 1000 },
      );
    await Promise.all([
      ready('deployments', 'kube-system', 'coredns'),
      ready('deployments', 'kube-system', 'metrics-server'),
      ready('statefulsets', NAMESPACE, 'cassandra'),
      ready('statefulsets', NAMESPACE, 'redis-a'),
      ready('deployments', NAMESPACE, 'prometheus'),
      ready('deployments', NAMESPACE, 'prometheus-adapter'),
      ...['base', 'main', 'stream'].map((name) => ready('deployments', NAMESPACE, name)),
      waitUntil(
        'Job migrate complete',
        async () => {
          const job = await api.get(`/apis/batch/v1/namespaces/${NAMESPACE}/jobs/migrate`);
          if (job.status?.conditions?.some((c: any) => c.type === 'Failed' && c.status === 'True')) {
            throw new Error('the migration Job failed');
          }
          return job.status?.conditions?.some((c: any) => c.type === 'Complete' && c.status === 'True');
        },
        { timeoutMs: 600_000, everyMs: 1000 },
      ),
    ]);
  }

  private async waitForAvailableApis(): Promise<void> {
    for (const name of ['v1beta1.custom.metrics.k8s.io', 'v1beta1.metrics.k8s.io']) {
      await waitUntil(
        `APIService ${name} Available`,
        async () => {
          const service = await this.api.get(`/apis/apiregistration.k8s.io/v1/apiservices/${name}`);
          return service.status?.conditions?.some((c: any) => c.type === 'Available' && c.status === 'True');
        },
        { timeoutMs: 180_000, everyMs: 500 },
      );
    }
  }

  /** Both HPAs carry a current value for every metric (a real target in `kubectl get hpa`). */
  async waitForHpaTargets(timeoutMs = 300_000): Promise<void> {
    await waitUntil(
      'HPAs main and stream report current metrics',
      async () => {
        const list = await this.api.get(`/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers`);
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

  /** Every ClusterIP Service port, as the host reaches it. */
  async services(): Promise<ServiceAddress[]> {
    const list = await this.api.get('/api/v1/services');
    return list.items.flatMap((service: KubeObject) =>
      service.spec.clusterIP && service.spec.clusterIP !== 'None'
        ? service.spec.ports.map((port: any) => ({
            namespace: service.metadata.namespace!,
            name: service.metadata.name,
            port: port.port,
            address: `${service.spec.clusterIP}:${port.port}`,
          }))
        : [],
    );
  }

  /** The run's state, as `cluster.json` holds it. */
  async state(): Promise<ClusterState> {
    const pki = this.controlPlane.pki;
    return {
      kubeconfig: this.kubeconfig,
      kubectl: this.options.tools.kubectl,
      server: this.controlPlane.server,
      admin: { caFile: pki.caCert, certFile: pki.clients.admin.cert, keyFile: pki.clients.admin.key },
      services: await this.services(),
      network: this.options.network,
      containerdSocket: this.node.containerdSocket,
      ingress: this.ingressUrl,
      timings: this.timings,
      logs: this.options.dir,
    };
  }

  async writeState(): Promise<string> {
    const file = path.join(this.options.dir, 'cluster.json');
    writeFileSync(file, `${JSON.stringify(await this.state(), null, 2)}\n`);
    return file;
  }

  /**
   * Stops everything it started: first the workloads, deleted through the API while the
   * controllers still run (the garbage collector deletes their pods, the kubelet ends each as
   * Kubernetes does — preStop, SIGTERM, grace period: streams send `reconnect` and release their
   * locks — and the Job controller lets its pod go); the apps before the data tier, so Redis
   * still takes the lock releases. Then the node and the control plane by PID. The host guard
   * undoes the rest.
   */
  async stop(): Promise<void> {
    this.controlPlane.stopping = true;
    const kubelet = this.node.processes.find((p) => p.name === 'kubelet');
    if (this.controlPlane.api && kubelet?.running) {
      try {
        await this.deleteWorkloads();
      } catch (error) {
        this.options.log(`workloads not deleted through the API: ${(error as Error).message}`);
      }
    }
    const byName = (name: string) => this.controlPlane.processes.find((p) => p.name === name);
    await byName('kube-controller-manager')?.stop();
    await this.node.stop();
    await this.controlPlane.stop();
  }

  private async deleteWorkloads(): Promise<void> {
    const app = `?labelSelector=${encodeURIComponent('app.kubernetes.io/component=app')}`;
    const rounds: Array<{ pods: string[]; delete: string[] }> = [
      {
        pods: [`/api/v1/namespaces/${NAMESPACE}/pods${app}`],
        delete: [
          `/apis/autoscaling/v2/namespaces/${NAMESPACE}/horizontalpodautoscalers`,
          `/apis/apps/v1/namespaces/${NAMESPACE}/deployments${app}`,
          `/apis/batch/v1/namespaces/${NAMESPACE}/jobs`,
        ],
      },
      {
        pods: [`/api/v1/namespaces/${NAMESPACE}/pods`, '/api/v1/namespaces/kube-system/pods'],
        delete: [
          `/apis/apps/v1/namespaces/${NAMESPACE}/deployments`,
          `/apis/apps/v1/namespaces/${NAMESPACE}/statefulsets`,
          '/apis/apps/v1/namespaces/kube-system/deployments',
        ],
      },
    ];
    for (const round of rounds) {
      for (const collection of round.delete) {
        await this.api.request('DELETE', collection, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Background',
        });
      }
      await waitUntil(
        'their pods ended by the kubelet',
        async () => {
          const counts = await Promise.all(round.pods.map(async (list) => (await this.api.get(list)).items.length));
          return counts.every((count) => count === 0);
        },
        { timeoutMs: 150_000, everyMs: 500 },
      ).catch((error) => this.options.log(String(error)));
    }
  }
}
