import { execFile } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

/**
 * Machine-wide: one local cluster per machine (the kubelet, kube-proxy and the CNI plugins use
 * fixed host paths, iptables chains and sysctls), whatever checkout started it.
 */
export const HOST_STATE_DIR = '/var/lib/kubescaler-cluster';
const LOCK_FILE = path.join(HOST_STATE_DIR, 'lock.json');
const RECORD_FILE = path.join(HOST_STATE_DIR, 'record.json');

/** Every iptables rule the cluster adds itself carries this comment. */
export const RULE_COMMENT = 'kubescaler-cluster';

/**
 * Kernel settings the node changes: the kubelet (overcommit, panic, keys), kube-proxy
 * (route_localnet, conntrack), the CNI bridge (forwarding) and the cluster itself (forwarding,
 * bridged traffic through iptables for Services between pods on the bridge).
 */
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv4/conf/all/route_localnet',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
];

/** Host paths the kubelet, containerd's CRI plugin and the CNI plugins use whatever they are told. */
const HOST_PATHS = [
  '/var/lib/kubelet',
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd',
  '/var/lib/cni',
  '/run/netns',
  '/usr/libexec/kubernetes',
];

/**
 * The kubelet's cgroup root (`cgroupRoot`, cgroupfs driver): every pod's cgroup lives under it in
 * each hierarchy, apart from anything else on the machine.
 */
export const KUBELET_CGROUP_ROOT = '/kubescaler-cluster';
const KUBELET_CGROUPS = [KUBELET_CGROUP_ROOT.slice(1)];

/** What a run changed on the host, written before each change so a crashed run can be undone. */
export interface HostRecord {
  pid: number;
  checkout: string;
  startedAt: string;
  bridge?: string;
  podCidr?: string;
  sysctls: Record<string, string>;
  /** Host paths that did not exist before the run (removed at the end). */
  createdPaths: string[];
  /** Iptables chains (table/chain) that existed before the run: left alone. */
  chainsBefore: string[];
  /** The run's own directories whose mounts are undone (containerd's root and state, the volumes). */
  runDirs: string[];
  /** Processes the run started (pid and kernel start time, so a reused pid is never killed). */
  processes: Array<{ name: string; pid: number; start: string }>;
  /** containerd's socket: its shims name it on their command line. */
  containerdSocket?: string;
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

function processStart(pid: number): string | undefined {
  try {
    // Field 22 of /proc/<pid>/stat (after the command in parentheses): start time in clock ticks.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A process's command line ('' once it is gone). */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return '';
  }
}

function sameProcess(entry: { pid: number; start: string }): boolean {
  return processStart(entry.pid) === entry.start;
}

async function quiet(command: string, args: string[]): Promise<string> {
  try {
    return (await exec(command, args, { maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch {
    return '';
  }
}

const IPTABLES = ['iptables', 'ip6tables'];
const TABLES = ['filter', 'nat', 'mangle'];
const OWN_CHAIN = /^(KUBE|CNI)-/;

async function chains(): Promise<string[]> {
  const found: string[] = [];
  for (const command of IPTABLES) {
    for (const table of TABLES) {
      for (const line of (await quiet(command, ['-w', '-t', table, '-S'])).split('\n')) {
        const chain = /^-N (\S+)/.exec(line)?.[1];
        if (chain && OWN_CHAIN.test(chain)) found.push(`${command}/${table}/${chain}`);
      }
    }
  }
  return found;
}

function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split(' ')[4]!.replace(/\\040/g, ' '));
}

/**
 * The host side of the local cluster: one run per machine, and everything the node changes on
 * the host recorded before it changes and undone at the end — or, after a crash, at the next
 * start. See docs/cluster.md ("The machine is left as it was").
 */
export class HostGuard {
  private record!: HostRecord;

  private constructor() {}

  /**
   * Takes the machine-wide lock (refusing while another run lives), undoes what a crashed run
   * left, and records the state the host is in now.
   */
  static async acquire(checkout: string, log: (line: string) => void): Promise<HostGuard> {
    mkdirSync(HOST_STATE_DIR, { recursive: true, mode: 0o700 });
    const guard = new HostGuard();
    const holder = readJson<{ pid: number; start: string; checkout: string }>(LOCK_FILE);
    if (holder && sameProcess(holder)) {
      throw new Error(
        `a local cluster is already running on this machine (pid ${holder.pid}, from ${holder.checkout}); ` +
          `stop it first (Ctrl-C in its terminal, or kill -TERM ${holder.pid})`,
      );
    }
    const left = readJson<HostRecord>(RECORD_FILE);
    if (left) {
      log(`undoing what an earlier cluster run (pid ${left.pid}) left on this machine…`);
      await new HostGuard().undo(left);
    }
    rmSync(LOCK_FILE, { force: true });
    // Exclusive create: of two runs starting at once, one gets the lock.
    let fd: number;
    try {
      fd = openSync(LOCK_FILE, 'wx', 0o600);
    } catch {
      throw new Error('another local cluster run is starting on this machine');
    }
    writeFileSync(fd, JSON.stringify({ pid: process.pid, start: processStart(process.pid), checkout }));
    closeSync(fd);
    guard.record = {
      pid: process.pid,
      checkout,
      startedAt: new Date().toISOString(),
      sysctls: {},
      createdPaths: HOST_PATHS.filter((p) => !existsSync(p)),
      chainsBefore: await chains(),
      runDirs: [],
      processes: [],
    };
    for (const name of SYSCTLS) {
      const file = `/proc/sys/${name}`;
      if (existsSync(file)) guard.record.sysctls[name] = readFileSync(file, 'utf8').trim();
    }
    guard.save();
    return guard;
  }

  private save(): void {
    writeFileSync(RECORD_FILE, `${JSON.stringify(this.record, null, 2)}\n`, { mode: 0o600 });
  }

  /** Notes a run directory whose mounts must go at the end. */
  addRunDir(dir: string): void {
    // As /proc/self/mountinfo names it (the checkout may sit behind a symbolic link).
    mkdirSync(dir, { recursive: true });
    this.record.runDirs.push(realpathSync(dir));
    this.save();
  }

  setNetwork(bridge: string, podCidr: string): void {
    Object.assign(this.record, { bridge, podCidr });
    this.save();
  }

  setContainerdSocket(socket: string): void {
    this.record.containerdSocket = socket;
    this.save();
  }

  /** Notes a process the run started (killed by the next start if this run crashes). */
  addProcess(name: string, pid: number | undefined): void {
    if (pid === undefined) return;
    const start = processStart(pid);
    if (start) this.record.processes.push({ name, pid, start });
    this.save();
  }

  /**
   * The kubelet's cgroup root in every cgroup v1 hierarchy (the kubelet wants it to exist; its
   * cpuset gets the parent's CPUs and memory nodes, as a new cpuset cgroup starts with none).
   */
  createCgroupRoot(): void {
    for (const entry of readdirSync('/sys/fs/cgroup', { withFileTypes: true })) {
      if (!entry.isDirectory() || entry.name === 'unified') continue;
      const parent = path.join('/sys/fs/cgroup', entry.name);
      if (!existsSync(path.join(parent, 'cgroup.procs'))) continue;
      const dir = path.join(parent, KUBELET_CGROUP_ROOT);
      mkdirSync(dir, { recursive: true });
      for (const file of ['cpuset.cpus', 'cpuset.mems']) {
        if (existsSync(path.join(parent, file)))
          writeFileSync(path.join(dir, file), readFileSync(path.join(parent, file), 'utf8').trim());
      }
    }
  }

  /** Sets a sysctl (its original value is already recorded). */
  setSysctl(name: string, value: string): void {
    if (!(name in this.record.sysctls)) throw new Error(`sysctl ${name} is not recorded`);
    writeFileSync(`/proc/sys/${name}`, value);
  }

  /** Undoes everything, then releases the machine-wide lock. */
  async release(): Promise<void> {
    await this.undo(this.record);
    rmSync(LOCK_FILE, { force: true });
  }

  /** Undoes what `record` says a run changed: processes, mounts, namespaces, iptables, links, sysctls, paths, cgroups. */
  private async undo(record: HostRecord): Promise<void> {
    const steps: Array<[string, () => Promise<void> | void]> = [
      ['processes', () => this.killProcesses(record)],
      ['container processes', () => this.killCgroups()],
      ['mounts', () => this.unmount(record)],
      ['network namespaces', () => this.removeNetns()],
      ['iptables', () => this.removeIptables(record)],
      ['bridge', () => (record.bridge ? quiet('ip', ['link', 'del', record.bridge]).then(() => {}) : undefined)],
      ['sysctls', () => this.restoreSysctls(record)],
      ['host paths', () => this.removePaths(record)],
      ['cgroups', () => this.removeCgroups()],
    ];
    const failed: string[] = [];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        failed.push(`${name}: ${(error as Error).message}`);
      }
    }
    rmSync(RECORD_FILE, { force: true });
    if (failed.length) throw new Error(`the host was not fully restored:\n  ${failed.join('\n  ')}`);
  }

  private async killProcesses(record: HostRecord): Promise<void> {
    const victims = record.processes.filter(sameProcess);
    if (record.containerdSocket) {
      // The shims outlive containerd on purpose; they name its socket on their command line.
      for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
        const cmdline = commandLine(Number(pid));
        if (cmdline.includes('containerd-shim') && cmdline.includes(record.containerdSocket)) {
          const start = processStart(Number(pid));
          if (start) victims.push({ name: 'containerd-shim', pid: Number(pid), start });
        }
      }
    }
    for (const victim of victims) process.kill(victim.pid, 'SIGKILL');
    await waitFor(() => victims.every((v) => !sameProcess(v)), 10_000);
  }

  /** Every process still in a kubelet cgroup (containers whose shim is gone) is killed. */
  private async killCgroups(): Promise<void> {
    const pids = new Set<number>();
    for (const dir of this.kubeletCgroupDirs('memory')) {
      try {
        for (const pid of readFileSync(path.join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean))
          pids.add(Number(pid));
      } catch {
        // gone meanwhile
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    if (pids.size) await waitFor(() => [...pids].every((pid) => !existsSync(`/proc/${pid}`)), 10_000);
  }

  private async unmount(record: HostRecord): Promise<void> {
    const roots = [...HOST_PATHS, ...record.runDirs];
    const under = (point: string) => roots.some((root) => point === root || point.startsWith(`${root}/`));
    // Deepest first; lazily if busy, so a stuck mount never blocks the rest of the clean-up.
    const points = [...new Set(mountPoints().filter(under))].sort((a, b) => b.length - a.length);
    for (const point of points) {
      try {
        await exec('umount', [point]);
      } catch {
        await quiet('umount', ['-l', point]);
      }
    }
  }

  private async removeNetns(): Promise<void> {
    if (!existsSync('/run/netns')) return;
    for (const name of readdirSync('/run/netns').filter((n) => n.startsWith('cni-'))) {
      await quiet('ip', ['netns', 'del', name]);
      rmSync(path.join('/run/netns', name), { force: true });
    }
  }

  private async removeIptables(record: HostRecord): Promise<void> {
    const keep = new Set(record.chainsBefore);
    for (const command of IPTABLES) {
      for (const table of TABLES) {
        const rules = (await quiet(command, ['-w', '-t', table, '-S'])).split('\n');
        const ours = new Set(
          rules
            .map((line) => /^-N (\S+)/.exec(line)?.[1])
            .filter(
              (chain): chain is string => !!chain && OWN_CHAIN.test(chain) && !keep.has(`${command}/${table}/${chain}`),
            ),
        );
        // Rules in other chains that jump to ours, or that carry our comment, go first.
        for (const line of rules) {
          const match = /^-A (\S+) (.*)$/.exec(line);
          if (!match || ours.has(match[1]!)) continue;
          const target = /-j (\S+)/.exec(match[2]!)?.[1];
          if ((target && ours.has(target)) || line.includes(`--comment ${RULE_COMMENT}`)) {
            await quiet('sh', ['-c', `${command} -w -t ${table} -D ${match[1]} ${match[2]}`]);
          }
        }
        for (const chain of ours) await quiet(command, ['-w', '-t', table, '-F', chain]);
        for (const chain of ours) await quiet(command, ['-w', '-t', table, '-X', chain]);
      }
    }
  }

  private restoreSysctls(record: HostRecord): void {
    const failed: string[] = [];
    for (const [name, value] of Object.entries(record.sysctls)) {
      try {
        if (readFileSync(`/proc/sys/${name}`, 'utf8').trim() !== value) writeFileSync(`/proc/sys/${name}`, value);
      } catch (error) {
        failed.push(`${name}=${value} (${(error as Error).message})`);
      }
    }
    if (failed.length) throw new Error(`could not restore ${failed.join(', ')}`);
  }

  private removePaths(record: HostRecord): void {
    for (const created of record.createdPaths) rmSync(created, { recursive: true, force: true });
  }

  private kubeletCgroupDirs(controller?: string): string[] {
    const hierarchies = controller ? [controller] : existsSync('/sys/fs/cgroup') ? readdirSync('/sys/fs/cgroup') : [];
    const found: string[] = [];
    const walk = (dir: string) => {
      found.push(dir);
      for (const entry of readdirSync(dir, { withFileTypes: true }))
        if (entry.isDirectory()) walk(path.join(dir, entry.name));
    };
    for (const hierarchy of hierarchies) {
      for (const root of KUBELET_CGROUPS) {
        const dir = path.join('/sys/fs/cgroup', hierarchy, root);
        try {
          if (statSync(dir).isDirectory()) walk(dir);
        } catch {
          // not in this hierarchy
        }
      }
    }
    return found;
  }

  /** The kubelet's cgroups, deepest first (a cgroup directory is removed with rmdir once empty). */
  private async removeCgroups(): Promise<void> {
    const dirs = this.kubeletCgroupDirs().sort((a, b) => b.length - a.length);
    for (const dir of dirs) await quiet('rmdir', [dir]);
    const left = this.kubeletCgroupDirs();
    if (left.length) throw new Error(`cgroups left: ${left.slice(0, 5).join(', ')}`);
  }
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
}
