import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeApi } from './kube-api.js';
import { createPki, type Pki, writeKubeconfig } from './pki.js';
import { ManagedProcess, waitUntil } from './processes.js';

/** The binaries the control plane runs (scripts/cluster/tools.mjs builds and lists them). */
export interface ClusterTools {
  readonly etcd: string;
  readonly 'kube-apiserver': string;
  readonly 'kube-controller-manager': string;
  readonly 'kube-scheduler': string;
  readonly kubectl: string;
  readonly kwok: string;
  readonly prometheus: string;
  readonly 'prometheus-adapter': string;
  readonly kwokNodeStages: readonly string[];
}

/** Every port the control plane and its monitoring listen on (all on 127.0.0.1). */
export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiServer: number;
  readonly controllerManager: number;
  readonly scheduler: number;
  readonly kwok: number;
  readonly prometheus: number;
  readonly adapter: number;
}
export const PORT_NAMES: ReadonlyArray<keyof ClusterPorts> = [
  'etcdClient',
  'etcdPeer',
  'apiServer',
  'controllerManager',
  'scheduler',
  'kwok',
  'prometheus',
  'adapter',
];

export interface ControlPlaneOptions {
  readonly tools: ClusterTools;
  /** The run's directory (wiped first): PKI, etcd data, kubeconfigs, logs. */
  readonly dir: string;
  readonly ports: ClusterPorts;
  /** The KWOK node's pod IPs. */
  readonly podCidr: string;
  /** Our pod stage for KWOK (IP and Pending phase; the kubelet stand-in does the rest). */
  readonly podStages: string;
  readonly nodeName: string;
  readonly log: (line: string) => void;
  readonly mark: (what: string) => void;
}

/** The Services' virtual IPs; nothing here dials them (no kube-proxy), a documentation range. */
const SERVICE_CIDR = '198.51.100.0/24';
const KUBERNETES_SERVICE_IP = '198.51.100.1';
/** Written into the `kubernetes` Endpoints only (every client here talks to 127.0.0.1); a documentation address. */
const ADVERTISE_ADDRESS = '192.0.2.2';

/**
 * etcd, kube-apiserver (with API aggregation for prometheus-adapter), kube-controller-manager
 * (the controllers a Deployment, a Job and the HPAs need, each with its own ServiceAccount),
 * kube-scheduler and KWOK with one fake node whose pods get IPs from `podCidr`.
 */
export class ControlPlane {
  readonly processes: ManagedProcess[] = [];
  pki!: Pki;
  api!: KubeApi;
  /** The admin kubeconfig (system:masters). */
  kubeconfig!: string;
  readonly server: string;

  constructor(private readonly options: ControlPlaneOptions) {
    this.server = `https://127.0.0.1:${options.ports.apiServer}`;
  }

  private get logs(): string {
    return path.join(this.options.dir, 'logs');
  }

  async start(): Promise<void> {
    const { dir, ports, tools, mark } = this.options;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(this.logs, { recursive: true });
    const etcd = this.spawn('etcd', tools.etcd, [
      '--name=kubescaler-local',
      `--data-dir=${path.join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${ports.etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${ports.etcdPeer}`,
      `--initial-cluster=kubescaler-local=http://127.0.0.1:${ports.etcdPeer}`,
      '--log-level=warn',
    ]);
    this.pki = await createPki(path.join(dir, 'pki'), KUBERNETES_SERVICE_IP);
    mark('certificates');
    await waitUntil('etcd healthy', async () => (await fetch(`http://127.0.0.1:${ports.etcdClient}/health`)).ok, {
      timeoutMs: 60_000,
      alive: etcd,
    });
    mark('etcd');

    const pki = this.pki;
    const apiserver = this.spawn('kube-apiserver', tools['kube-apiserver'], [
      `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
      '--bind-address=127.0.0.1',
      `--secure-port=${ports.apiServer}`,
      `--advertise-address=${ADVERTISE_ADDRESS}`,
      `--tls-cert-file=${pki.apiServerCert}`,
      `--tls-private-key-file=${pki.apiServerKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=false',
      // API aggregation: the API server proxies custom.metrics.k8s.io to the adapter as front-proxy-client.
      `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
      '--requestheader-allowed-names=front-proxy-client',
      '--requestheader-username-headers=X-Remote-User',
      '--requestheader-group-headers=X-Remote-Group',
      '--requestheader-extra-headers-prefix=X-Remote-Extra-',
      `--proxy-client-cert-file=${pki.frontProxyClientCert}`,
      `--proxy-client-key-file=${pki.frontProxyClientKey}`,
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      '--v=1',
    ]);
    const kubeconfigOf = (name: keyof Pki['clients']) =>
      writeKubeconfig(path.join(dir, `${name}.kubeconfig`), {
        server: this.server,
        caFile: pki.caCert,
        user: name,
        certFile: pki.clients[name].cert,
        keyFile: pki.clients[name].key,
      });
    this.kubeconfig = kubeconfigOf('admin');
    this.api = new KubeApi({
      server: this.server,
      caFile: pki.caCert,
      certFile: pki.clients.admin.cert,
      keyFile: pki.clients.admin.key,
    });
    await waitUntil('kube-apiserver ready', async () => (await this.api.get<string>('/readyz')) === 'ok', {
      timeoutMs: 180_000,
      everyMs: 250,
      alive: apiserver,
    });
    mark('kube-apiserver');

    // Both as the users the bootstrap RBAC policy binds, serving their health and metrics on 127.0.0.1.
    const component = (name: 'kube-controller-manager' | 'kube-scheduler', port: number) => {
      const kubeconfig = kubeconfigOf(name);
      return [
        `--kubeconfig=${kubeconfig}`,
        `--authentication-kubeconfig=${kubeconfig}`,
        `--authorization-kubeconfig=${kubeconfig}`,
        '--bind-address=127.0.0.1',
        `--secure-port=${port}`,
        '--leader-elect=false',
        '--v=1',
      ];
    };
    this.spawn('kube-controller-manager', tools['kube-controller-manager'], [
      ...component('kube-controller-manager', ports.controllerManager),
      // No endpoint controllers: pod IPs here are loopback addresses, which Endpoints may not hold.
      '--controllers=deployment,replicaset,horizontalpodautoscaling,job,ttl-after-finished,disruption,serviceaccount,serviceaccount-token,namespace,garbagecollector',
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      // Quick feedback on one machine: the HPA looks every 5 s (default 15 s) and counts a pod's CPU
      // 15 s after its start (default 5 min).
      '--horizontal-pod-autoscaler-sync-period=5s',
      '--horizontal-pod-autoscaler-cpu-initialization-period=15s',
    ]);
    this.spawn('kube-scheduler', tools['kube-scheduler'], component('kube-scheduler', ports.scheduler));
    const stagesFile = path.join(dir, 'kwok-stages.yaml');
    writeFileSync(
      stagesFile,
      [...tools.kwokNodeStages.map((file) => readFileSync(file, 'utf8')), this.options.podStages]
        .map((doc) => doc.replace(/^---\n/, ''))
        .join('\n---\n'),
    );
    this.spawn('kwok', tools.kwok, [
      `--kubeconfig=${this.kubeconfig}`,
      `--config=${stagesFile}`,
      '--manage-all-nodes=false',
      '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
      `--cidr=${this.options.podCidr}`,
      '--node-ip=127.0.0.1',
      `--server-address=127.0.0.1:${ports.kwok}`,
    ]);
    await this.createNode();
    mark('controller-manager, scheduler, KWOK node Ready');
  }

  private async createNode(): Promise<void> {
    const name = this.options.nodeName;
    await this.api.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
        labels: {
          type: 'kwok',
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
        },
      },
      status: {
        allocatable: { cpu: '32', memory: '256Gi', pods: '110' },
        capacity: { cpu: '32', memory: '256Gi', pods: '110' },
      },
    });
    await waitUntil(
      'KWOK node Ready',
      async () => {
        const node = await this.api.get(`/api/v1/nodes/${name}`);
        return node.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
      },
      { timeoutMs: 60_000, alive: this.processes.find((p) => p.name === 'kwok') },
    );
    // Added at registration and removed by the node lifecycle controller, which does not run here.
    await this.api.request(
      'PATCH',
      `/api/v1/nodes/${name}`,
      { spec: { taints: null } },
      'application/merge-patch+json',
    );
  }

  /** A token of a ServiceAccount (TokenRequest API), written to a file. */
  async serviceAccountToken(namespace: string, name: string, file: string): Promise<string> {
    const answer = await this.api.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 7 * 24 * 3600 },
    });
    writeFileSync(file, answer.status.token, { mode: 0o600 });
    return file;
  }

  /** A kubeconfig that authenticates as a ServiceAccount. */
  async serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const tokenFile = await this.serviceAccountToken(namespace, name, path.join(this.options.dir, `${name}.token`));
    return writeKubeconfig(path.join(this.options.dir, `${name}.kubeconfig`), {
      server: this.server,
      caFile: this.pki.caCert,
      user: `system:serviceaccount:${namespace}:${name}`,
      tokenFile,
    });
  }

  spawn(name: string, binary: string, args: string[]): ManagedProcess {
    const child = ManagedProcess.start(name, binary, args, { logFile: path.join(this.logs, `${name}.log`) });
    this.processes.push(child);
    child.exited.then(({ code, signal }) => {
      if (!this.stopping) this.options.log(`${name} exited (${signal ?? `code ${code}`}); see ${child.logFile}`);
    });
    return child;
  }

  /** Set once stopping began: exits are then expected. */
  stopping = false;

  /** Stops every process it started, newest first, by PID. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const child of [...this.processes].reverse()) await child.stop(10_000);
    this.api?.close();
  }
}
