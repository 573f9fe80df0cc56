import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '@app/testing';
import type { ClusterState } from '../cluster/cluster.js';
import { KubeApi, type KubeObject } from '../cluster/kube-api.js';
import { type Completed, runCommand } from '../k8s/rendered-manifests.js';

/**
 * `npm run cluster` (node scripts/cluster.mjs) as a real process: started with `env`, ready once
 * it has printed KUBECONFIG=… and the HPA table; the state it writes (cluster.json) tells where
 * everything is.
 */
export class ClusterRun {
  private constructor(
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
        const api = new KubeApi({ server: state.server, ...state.admin });
        return new ClusterRun(child, state, api, startedAt, performance.now(), out, exited);
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

  /** `http://<local forwarder>` of a Service port (the kube-proxy stand-in). */
  serviceUrl(name: string, namespace = 'kubescaler'): string {
    const endpoint = this.state.services.find((s) => s.name === name && s.namespace === namespace);
    if (!endpoint) throw new Error(`no forwarded Service ${namespace}/${name}`);
    return `http://${endpoint.local}`;
  }

  /** The pods of one app (label app.kubernetes.io/name). */
  async pods(app: string): Promise<KubeObject[]> {
    const list = await this.api.get(
      `/api/v1/namespaces/kubescaler/pods?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${app}`)}`,
    );
    return list.items;
  }

  /** PIDs of every process below the command (control plane, monitoring, pods' processes). */
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
