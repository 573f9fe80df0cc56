import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@app/testing';
import { pathToFileURL } from 'node:url';
import type { ClusterState } from '../../scripts/cluster/dist/cluster.js';
import type * as KubeApiModule from '../../scripts/cluster/dist/kube-api.js';
import type { KubeApi, KubeObject } from '../../scripts/cluster/dist/kube-api.js';
import { type Completed, runCommand } from '../k8s/rendered-manifests.js';

// The cluster's own API client, from its compiled output: loaded by absolute path, since this
// file runs from test/dist/, one level below where it is written.
const { KubeApi: KubeApiClient } = (await import(
  pathToFileURL(path.join(REPO_ROOT, 'scripts', 'cluster', 'dist', 'kube-api.js')).href
)) as typeof KubeApiModule;

/**
 * `npm run cluster` (node scripts/cluster.mjs) as a real process: started with `env`, ready once
 * it has printed KUBECONFIG=… and the HPA table; the state it writes (cluster.json) tells where
 * everything is.
 */
export class ClusterRun {
  private constructor(
    /** What the host had before the run: ip_forward and the KUBE-/CNI- iptables chains. */
    readonly hostBefore: { ipForward: string; chains: string[] },
    readonly child: ChildProcess,
    readonly state: ClusterState,
    readonly api: KubeApi,
    readonly startedAt: number,
    readonly readyAt: number,
    private readonly out: { text: string },
    readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>,
  ) {}

  /** Everything the command printed so far. */
  output(): string {
    return this.out.text;
  }

  static async start(env: Record<string, string>, timeoutMs: number): Promise<ClusterRun> {
    const hostBefore = {
      ipForward: readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim(),
      chains: await ownChains(),
    };
    const startedAt = performance.now();
    const child = spawn(process.execPath, [path.join(REPO_ROOT, 'scripts', 'cluster.mjs')], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { text: '' };
    child.stdout!.on('data', (chunk: Buffer) => (out.text += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (out.text += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    void exited.then(() => process.removeListener('exit', killOnExit));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const statePath = /^CLUSTER_STATE=(.+)$/m.exec(out.text)?.[1];
      if (statePath && /^KUBECONFIG=\//m.test(out.text)) {
        const state = JSON.parse(readFileSync(statePath, 'utf8')) as ClusterState;
        const api = new KubeApiClient({ server: state.server, ...state.admin });
        return new ClusterRun(hostBefore, child, state, api, startedAt, performance.now(), out, exited);
      }
      if (gone) throw new Error(`npm run cluster exited before the cluster was ready:\n${out.text.slice(-8000)}`);
      if (performance.now() > deadline) {
        child.kill('SIGTERM');
        throw new Error(`npm run cluster was not ready within ${timeoutMs / 1000} s:\n${out.text.slice(-8000)}`);
      }
      await new Promise((done) => setTimeout(done, 250));
    }
  }

  /** kubectl (the server's version) against this cluster. */
  kubectl(...args: string[]): Promise<Completed> {
    return runCommand(this.state.kubectl, ['--kubeconfig', this.state.kubeconfig, ...args], { timeoutMs: 60_000 });
  }

  /** `ctr` against the node's containerd (the kubelet's namespace). */
  ctr(...args: string[]): Promise<Completed> {
    return runCommand('ctr', ['--address', this.state.containerdSocket, '--namespace', 'k8s.io', ...args], {
      timeoutMs: 60_000,
    });
  }

  /** The KUBE-/CNI- iptables chains on the host now. */
  ownChains(): Promise<string[]> {
    return ownChains();
  }

  /** `http://<ClusterIP>:<port>` of a Service (the host reaches it through kube-proxy's rules). */
  serviceUrl(name: string, namespace = 'kubescaler'): string {
    const endpoint = this.state.services.find((s) => s.name === name && s.namespace === namespace);
    if (!endpoint) throw new Error(`no Service ${namespace}/${name}`);
    return `http://${endpoint.address}`;
  }

  /** The pods of one app (label app.kubernetes.io/name). */
  async pods(app: string): Promise<KubeObject[]> {
    const list = await this.api.get(
      `/api/v1/namespaces/kubescaler/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${app}`)}`,
    );
    return list.items;
  }

  /** PIDs of every process below the command (control plane, node agents, ingress; containers run under their shims). */
  descendants(): number[] {
    const parents = new Map<number, number[]>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        parents.set(ppid, [...(parents.get(ppid) ?? []), Number(entry)]);
      } catch {
        // gone meanwhile
      }
    }
    const found: number[] = [];
    const visit = (pid: number) => {
      for (const child of parents.get(pid) ?? []) {
        found.push(child);
        visit(child);
      }
    };
    visit(this.child.pid!);
    return found;
  }

  /** SIGTERM; resolves with how it exited and how long that took. */
  async stop(timeoutMs = 120_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; seconds: number }> {
    const started = performance.now();
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const result = await this.exited;
    clearTimeout(timer);
    this.api.close();
    return { ...result, seconds: (performance.now() - started) / 1000 };
  }
}

/** Whether process `pid` still exists (and is not a zombie). */
export function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

/** Every KUBE-/CNI- chain of iptables and ip6tables (filter, nat, mangle), as `command/table/chain`. */
async function ownChains(): Promise<string[]> {
  const found: string[] = [];
  for (const command of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle']) {
      const listed = await runCommand(command, ['-w', '-t', table, '-S'], { timeoutMs: 30_000 });
      for (const line of listed.stdout.split('\n')) {
        const chain = /^-N ((?:KUBE|CNI)-\S+)/.exec(line)?.[1];
        if (chain) found.push(`${command}/${table}/${chain}`);
      }
    }
  }
  return found.sort();
}
