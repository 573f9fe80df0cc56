import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { KubeApi } from './kube-api.js';
import { createPki, type Pki, writeKubeconfig } from './pki.js';
import { firstAddress, type NodeNetwork } from './node.js';
import { ManagedProcess, waitUntil } from './processes.js';

/** The binaries the control plane runs (scripts/cluster/tools.mjs builds and lists them). */
export interface ClusterTools {
  readonly etcd: string;
  readonly 'kube-apiserver': string;
  readonly 'kube-controller-manager': string;
  readonly 'kube-scheduler': string;
  readonly kubectl: string;
  readonly kubelet: string;
  readonly 'kube-proxy': string;
  readonly coredns: string;
  readonly 'metrics-server': string;
  readonly prometheus: string;
  readonly 'prometheus-adapter': string;
}

/**
 * Every port the cluster's host processes listen on: the API server and the kubelet on the node
 * address (the pods reach them there), the rest on 127.0.0.1; the ingress on 127.0.0.1.
 */
export interface ClusterPorts {
  readonly etcdClient: number;
  readonly etcdPeer: number;
  readonly apiServer: number;
  readonly controllerManager: number;
  readonly scheduler: number;
  readonly kubelet: number;
  readonly kubeletHealthz: number;
  readonly proxyHealthz: number;
  readonly proxyMetrics: number;
  readonly ingress: number;
}
export const PORT_NAMES: ReadonlyArray<keyof ClusterPorts> = [
  'etcdClient',
  'etcdPeer',
  'apiServer',
  'controllerManager',
  'scheduler',
  'kubelet',
  'kubeletHealthz',
  'proxyHealthz',
  'proxyMetrics',
  'ingress',
];

export interface ControlPlaneOptions {
  readonly tools: ClusterTools;
  /** The run's directory: PKI, etcd data, kubeconfigs, logs. */
  readonly dir: string;
  readonly ports: ClusterPorts;
  readonly network: NodeNetwork;
  /** Told of every process started (the host guard kills them after a crash). */
  readonly track: (name: string, pid: number | undefined) => void;
  readonly log: (line: string) => void;
  readonly mark: (what: string) => void;
}

/**
 * etcd, kube-apiserver (on the node address, with API aggregation for prometheus-adapter and
 * metrics-server), kube-controller-manager (every default controller, each with its own
 * ServiceAccount) and kube-scheduler.
 */
export class ControlPlane {
  readonly processes: ManagedProcess[] = [];
  pki!: Pki;
  api!: KubeApi;
  /** The admin kubeconfig (system:masters). */
  kubeconfig!: string;
  readonly server: string;

  constructor(private readonly options: ControlPlaneOptions) {
    this.server = `https://${options.network.nodeIp}:${options.ports.apiServer}`;
  }

  private get logs(): string {
    return path.join(this.options.dir, 'logs');
  }

  async start(): Promise<void> {
    const { dir, ports, tools, mark } = this.options;
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
    const { network } = this.options;
    this.pki = await createPki(path.join(dir, 'pki'), firstAddress(network.serviceCidr), network.nodeIp);
    mark('certificates');
    await waitUntil('etcd healthy', async () => (await fetch(`http://127.0.0.1:${ports.etcdClient}/health`)).ok, {
      timeoutMs: 60_000,
      alive: etcd,
    });
    mark('etcd');

    const pki = this.pki;
    const apiserver = this.spawn('kube-apiserver', tools['kube-apiserver'], [
      `--etcd-servers=http://127.0.0.1:${ports.etcdClient}`,
      // The pods reach it through the `kubernetes` Service, whose endpoint is this address.
      `--bind-address=${network.nodeIp}`,
      `--secure-port=${ports.apiServer}`,
      `--advertise-address=${network.nodeIp}`,
      `--tls-cert-file=${pki.apiServerCert}`,
      `--tls-private-key-file=${pki.apiServerKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-cluster-ip-range=${network.serviceCidr}`,
      '--service-node-port-range=30000-30999',
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=false',
      // Towards the kubelet (logs, exec, port-forward): its serving certificate is the cluster CA's.
      `--kubelet-client-certificate=${pki.clients['apiserver-kubelet-client'].cert}`,
      `--kubelet-client-key=${pki.clients['apiserver-kubelet-client'].key}`,
      `--kubelet-certificate-authority=${pki.caCert}`,
      // The node's host name resolves to 127.0.0.1 here; its InternalIP is the bridge address.
      '--kubelet-preferred-address-types=InternalIP',
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
      '--use-service-account-credentials=true',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      // Quick feedback on one machine: the HPA looks every 5 s (default 15 s) and counts a pod's CPU
      // 15 s after its start (default 5 min).
      '--horizontal-pod-autoscaler-sync-period=5s',
      '--horizontal-pod-autoscaler-cpu-initialization-period=15s',
    ]);
    this.spawn('kube-scheduler', tools['kube-scheduler'], component('kube-scheduler', ports.scheduler));
    mark('controller-manager, scheduler');
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
    this.options.track(name, child.pid);
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
