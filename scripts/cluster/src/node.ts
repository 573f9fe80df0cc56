import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { HostGuard } from './host.js';
import { KUBELET_CGROUP_ROOT, RULE_COMMENT } from './host.js';
import { NODE_NAME, type Pki, writeKubeconfig } from './pki.js';
import { execFileAsync, ManagedProcess, waitUntil } from './processes.js';

/** The node's network: pods on a bridge of their own, Services as kube-proxy's virtual IPs. */
export interface NodeNetwork {
  /** The bridge the script creates; the node's (and the API server's) address is its first IP. */
  readonly bridge: string;
  readonly podCidr: string;
  readonly serviceCidr: string;
  /** The bridge's address: the pods' gateway, the node IP, where the API server and kubelet listen. */
  readonly nodeIp: string;
  /** The cluster DNS Service's address (CoreDNS). */
  readonly dnsIp: string;
}

/** An image archive to load into the node's containerd (scripts/cluster/images.mjs builds them). */
export interface NodeImage {
  /** Which image it is (`kubescaler`, `pause`, `redis`, …). */
  readonly key: string;
  /** The name as the manifests write it (`redis:7.4.6-alpine`). */
  readonly name: string;
  /** The full reference the archive holds, which the CRI plugin looks up (`docker.io/library/redis:7.4.6-alpine`). */
  readonly ref: string;
  readonly archive: string;
}

export interface NodeBinaries {
  readonly kubelet: string;
  readonly 'kube-proxy': string;
  readonly containerd: string;
  readonly ctr: string;
  readonly iptables: string;
}

export interface NodeOptions {
  readonly binaries: NodeBinaries;
  readonly network: NodeNetwork;
  readonly host: HostGuard;
  /** The run directory: containerd's root and state, the kubelet's root, configurations, logs. */
  readonly dir: string;
  readonly ports: { kubelet: number; kubeletHealthz: number; proxyHealthz: number; proxyMetrics: number };
  readonly images: readonly NodeImage[];
  readonly log: (line: string) => void;
  readonly mark: (what: string) => void;
}

/** `10.244.0.0/24` → `10.244.0.1` (the bridge's address). */
export function firstAddress(cidr: string): string {
  const [base] = cidr.split('/');
  const parts = base!.split('.').map(Number);
  parts[3] = parts[3]! + 1;
  return parts.join('.');
}

/**
 * One real Kubernetes node on this machine: a bridge for the pod range (traffic from pods may
 * not leave it), containerd with runc and the CNI bridge plugin, the kubelet and kube-proxy in
 * iptables mode. Host changes go through the HostGuard, which undoes them.
 */
export class Node {
  readonly processes: ManagedProcess[] = [];
  containerdSocket = '';
  kubeconfig = '';

  constructor(private readonly options: NodeOptions) {}

  private get logs(): string {
    return path.join(this.options.dir, 'logs');
  }

  /** The bridge and the rules that keep pod traffic on this machine, before anything can use them. */
  async createNetwork(): Promise<void> {
    const { network, host, binaries } = this.options;
    host.setNetwork(network.bridge, network.podCidr);
    const ip = (...args: string[]) => execFileAsync('ip', args);
    const iptables = (...args: string[]) => execFileAsync(binaries.iptables, ['-w', ...args]);
    const prefix = network.podCidr.split('/')[1];
    // No pod traffic leaves the machine, and nothing from outside reaches a pod. In mangle's
    // FORWARD, which every forwarded packet passes before filter's, where kube-proxy puts its
    // own jumps first.
    for (const rule of [
      ['-s', network.podCidr, '!', '-o', network.bridge],
      ['-d', network.podCidr, '!', '-i', network.bridge],
    ]) {
      await iptables(
        '-t',
        'mangle',
        '-I',
        'FORWARD',
        '1',
        ...rule,
        '-m',
        'comment',
        '--comment',
        RULE_COMMENT,
        '-j',
        'DROP',
      );
    }
    await ip('link', 'add', network.bridge, 'type', 'bridge');
    await ip('addr', 'add', `${network.nodeIp}/${prefix}`, 'dev', network.bridge);
    await ip('link', 'set', network.bridge, 'up');
    // The Service range is the bridge's too: a Service address nothing answers for never takes
    // the default route off the machine (the route goes with the bridge).
    await ip('route', 'add', network.serviceCidr, 'dev', network.bridge);
    // Service traffic is DNAT-ed on the host and routed back onto the bridge; bridged replies
    // between two pods pass iptables so the DNAT is undone.
    host.setSysctl('net/ipv4/ip_forward', '1');
    host.setSysctl('net/bridge/bridge-nf-call-iptables', '1');
  }

  /** containerd, with every image loaded. */
  async startRuntime(): Promise<void> {
    mkdirSync(this.logs, { recursive: true });
    await this.startContainerd();
    this.options.mark('containerd');
    await this.loadImages();
    this.options.mark(`${this.options.images.length} images loaded into containerd`);
  }

  /** The kubelet and kube-proxy, once the API server runs. */
  startAgents(pki: Pki, server: string): void {
    this.startKubelet(pki, server);
    this.startKubeProxy(pki, server);
  }

  private spawn(name: string, binary: string, args: string[]): ManagedProcess {
    const child = ManagedProcess.start(name, binary, args, { logFile: path.join(this.logs, `${name}.log`) });
    this.processes.push(child);
    this.options.host.addProcess(name, child.pid);
    child.exited.then(({ code, signal }) => {
      if (!this.stopping) this.options.log(`${name} exited (${signal ?? `code ${code}`}); see ${child.logFile}`);
    });
    return child;
  }

  stopping = false;

  private async startContainerd(): Promise<void> {
    const { dir, binaries, host, network } = this.options;
    const root = path.join(dir, 'containerd');
    this.containerdSocket = path.join(root, 'containerd.sock');
    host.addRunDir(root);
    host.setContainerdSocket(this.containerdSocket);
    const cniConf = path.join(dir, 'cni', 'net.d');
    mkdirSync(cniConf, { recursive: true });
    writeFileSync(
      path.join(cniConf, '10-kubescaler.conflist'),
      `${JSON.stringify(
        {
          cniVersion: '1.0.0',
          name: 'kubescaler',
          plugins: [
            {
              type: 'bridge',
              bridge: network.bridge,
              isGateway: true,
              ipMasq: false,
              hairpinMode: true,
              ipam: {
                type: 'host-local',
                ranges: [[{ subnet: network.podCidr, gateway: network.nodeIp }]],
                routes: [{ dst: '0.0.0.0/0' }],
                dataDir: path.join(dir, 'cni', 'ipam'),
              },
            },
          ],
        },
        null,
        2,
      )}\n`,
    );
    const config = path.join(root, 'config.toml');
    mkdirSync(root, { recursive: true });
    // Every pod's sandbox: the pause image among those loaded.
    const pause = this.options.images.find((image) => image.key === 'pause');
    if (!pause) throw new Error('no pause image among the images');
    // containerd 1.6 (Debian). runc, not crun (crun refuses this machine's hybrid cgroups);
    // restrict_oom_score_adj: without CAP_SYS_RESOURCE a negative oom_score_adj fails the sandbox.
    writeFileSync(
      config,
      `version = 2
root = "${path.join(root, 'root')}"
state = "${path.join(root, 'state')}"
oom_score = 0

[grpc]
  address = "${this.containerdSocket}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${pause.name}"
  restrict_oom_score_adj = true
  disable_tcp_service = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = false
  enable_unprivileged_icmp = false
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${cniConf}"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "/usr/sbin/runc"
        Root = "${path.join(root, 'runc')}"
        SystemdCgroup = false

[plugins."io.containerd.internal.v1.opt"]
  path = "${path.join(root, 'opt')}"
`,
    );
    const containerd = this.spawn('containerd', binaries.containerd, ['--config', config, '--log-level', 'warn']);
    await waitUntil('containerd answering', async () => (await this.ctr('version')).includes('Server'), {
      timeoutMs: 60_000,
      everyMs: 100,
      alive: containerd,
    });
  }

  /** `ctr` against the node's containerd, in the kubelet's namespace. */
  async ctr(...args: string[]): Promise<string> {
    const { stdout } = await execFileAsync(
      this.options.binaries.ctr,
      ['--address', this.containerdSocket, '--namespace', 'k8s.io', ...args],
      { maxBuffer: 16 * 1024 * 1024 },
    );
    return stdout;
  }

  private async loadImages(): Promise<void> {
    for (const image of this.options.images) {
      await this.ctr('images', 'import', image.archive);
    }
    const present = new Set((await this.ctr('images', 'ls', '-q')).split('\n'));
    const missing = this.options.images.filter((image) => !present.has(image.ref));
    if (missing.length) throw new Error(`not in containerd after import: ${missing.map((i) => i.ref).join(', ')}`);
  }

  private startKubelet(pki: Pki, server: string): void {
    const { dir, network, ports, binaries } = this.options;
    const kubeletDir = path.join(dir, 'kubelet');
    mkdirSync(kubeletDir, { recursive: true });
    this.options.host.addRunDir(kubeletDir);
    // No nameserver: pods with dnsPolicy Default resolve nothing, every other pod only the
    // cluster's names (CoreDNS has no upstream either), so no query leaves the machine.
    this.options.host.createCgroupRoot();
    const resolvConf = path.join(kubeletDir, 'resolv.conf');
    writeFileSync(resolvConf, '');
    this.kubeconfig = writeKubeconfig(path.join(kubeletDir, 'kubelet.kubeconfig'), {
      server,
      caFile: pki.caCert,
      user: `system:node:${NODE_NAME}`,
      certFile: pki.clients.kubelet.cert,
      keyFile: pki.clients.kubelet.key,
    });
    const config = path.join(kubeletDir, 'config.yaml');
    writeFileSync(
      config,
      `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (hybrid) here: the cgroupfs driver; kubelet >= 1.35 would refuse cgroup v1.
cgroupDriver: cgroupfs
cgroupRoot: ${KUBELET_CGROUP_ROOT}
failSwapOn: false
containerRuntimeEndpoint: unix://${this.containerdSocket}
address: ${network.nodeIp}
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${ports.kubeletHealthz}
tlsCertFile: ${pki.kubeletServingCert}
tlsPrivateKeyFile: ${pki.kubeletServingKey}
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: ${pki.caCert} }
authorization:
  mode: Webhook
clusterDNS: [${network.dnsIp}]
clusterDomain: cluster.local
resolvConf: ${resolvConf}
volumePluginDir: ${path.join(kubeletDir, 'volume-plugins')}
evictionHard:
  memory.available: 200Mi
  nodefs.available: 2%
  imagefs.available: 2%
  nodefs.inodesFree: 2%
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
protectKernelDefaults: false
`,
    );
    this.spawn('kubelet', binaries.kubelet, [
      `--config=${config}`,
      `--kubeconfig=${this.kubeconfig}`,
      `--root-dir=${path.join(kubeletDir, 'root')}`,
      `--node-ip=${network.nodeIp}`,
      `--hostname-override=${NODE_NAME}`,
      '--v=1',
    ]);
  }

  private startKubeProxy(pki: Pki, server: string): void {
    const { dir, network, ports, binaries } = this.options;
    const proxyDir = path.join(dir, 'kube-proxy');
    mkdirSync(proxyDir, { recursive: true });
    const kubeconfig = writeKubeconfig(path.join(proxyDir, 'kube-proxy.kubeconfig'), {
      server,
      caFile: pki.caCert,
      user: 'system:kube-proxy',
      certFile: pki.clients['kube-proxy'].cert,
      keyFile: pki.clients['kube-proxy'].key,
    });
    const config = path.join(proxyDir, 'config.yaml');
    // iptables mode. Node ports only on the bridge; conntrack sysctls and route_localnet untouched.
    writeFileSync(
      config,
      `apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: ${kubeconfig}
mode: iptables
clusterCIDR: ${network.podCidr}
hostnameOverride: ${NODE_NAME}
healthzBindAddress: 127.0.0.1:${ports.proxyHealthz}
metricsBindAddress: 127.0.0.1:${ports.proxyMetrics}
nodePortAddresses: ["${network.podCidr}"]
conntrack:
  maxPerCore: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
iptables:
  localhostNodePorts: false
  masqueradeAll: false
`,
    );
    this.spawn('kube-proxy', binaries['kube-proxy'], [`--config=${config}`, '--v=1']);
  }

  /**
   * Stops kube-proxy, the kubelet and containerd, by PID (the pods must already be gone: the
   * cluster deletes them through the API first, so they end as the kubelet ends them); the
   * HostGuard then removes what is left.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const child of [...this.processes].reverse()) await child.stop(10_000);
  }
}
