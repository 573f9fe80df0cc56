// Shared harness of the benchmarks (test/bench/<figure>.bench.ts): the system under test
// (base, main, our stream or the Nest baseline, each stream process on a private Redis), process
// figures from /proc, the load generator with the bench defaults, and the result fragments that
// scripts/bench.mjs turns into bench/results/<date>.json and .md.
import { execFileSync } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type AppProcess, freePort, launchNodeApp, RedisServer, REPO_ROOT, startApp, testInfra } from '@app/testing';
import { kernelSockets } from '../support/kernel-sockets.js';
import { Histogram, type Percentiles, round } from './histogram.js';
import {
  Counters,
  LoadGenerator,
  type LoadOptions,
  type LoadResult,
  loopbackSources,
  type Pair,
} from './load-generator.js';
import { createTestdata, readPairs } from './pairs.js';
import { progressLine } from './report.js';

/**
 * ours: this stream app as configured by default; today: the same app with the stream tier's
 * behaviour before the kernel's share was capped (no TCP_NOTSENT_LOWAT, drop by bytes only, at
 * 1 MiB pending); baseline: the plain Nest `@Sse()` app; before: the stream app as it was before
 * the density work (`BEFORE_COMMIT`, built from git); nchan: nginx's nchan module, subscribers
 * on `/stream/:userId/:profileId` (one channel a pair), fed by the benchmark (see `startNchan`).
 */
export type ServerKind = 'ours' | 'today' | 'baseline' | 'before' | 'nchan';

/**
 * The stream tier before the density work (a timer per stream for its events, watchdog,
 * heartbeat and lock renewal and watchdog; one renewal round trip per lock): main just before that
 * work merged (it takes base's internal credential, as today's base requires), the commit the
 * `before` kind is built from.
 */
export const BEFORE_COMMIT = '0b2966908483b1d691c0318afdd59e15e841f5f7';
export const SERVER_KINDS: readonly ServerKind[] = ['ours', 'baseline'];
/** The environment that makes our app behave as the stream tier did before drop-by-age. */
export const TODAY_ENV: Readonly<Record<string, string>> = Object.freeze({
  STREAM_SOCKET_NOTSENT_LOWAT_BYTES: '0',
  STREAM_MAX_LAG_MS: '60000',
  STREAM_MAX_BUFFER_BYTES: String(1024 * 1024),
});

/** `BENCH_SCALE=smoke` shrinks every figure to a few streams and seconds (the `npm test` smoke run). */
export const SMOKE = process.env.BENCH_SCALE === 'smoke';
/** A figure's sizes (streams, seconds, steps …): `smoke` under `BENCH_SCALE=smoke`, else `full`. */
export function scale<T>(sizes: { full: T; smoke: NoInfer<T> }): T {
  return SMOKE ? sizes.smoke : sizes.full;
}
export const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** All benchmarks share one keyspace, so the 15k pairs are created once per run. */
const KEYSPACE = process.env.BENCH_KEYSPACE ?? (SMOKE ? 'bench_smoke' : 'bench_figures');

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
export const log = (line: string) => console.log(`  ${line}`);
export const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

// --- processes -------------------------------------------------------------------------------

/** Resident set size of `pid`, bytes. */
export function rssOf(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** User + system CPU seconds `pid` has used (`/proc/<pid>/stat`, 100 ticks a second). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * Kernel memory of a server's TCP sockets (`ss -tm` skmem r + w of every socket whose local port
 * is `port`): what the kernel holds for its clients, charged to the pod's cgroup yet not in RSS.
 */
export function serverSocketMemory(port: number): { bytes: number; sockets: number; sendQueued: number } {
  const sockets = kernelSockets([port]).filter((s) => s.localPort === port);
  return {
    bytes: sockets.reduce((sum, s) => sum + s.memoryBytes, 0),
    sockets: sockets.length,
    sendQueued: sockets.reduce((sum, s) => sum + s.sendQ, 0),
  };
}

/** Measures the CPU `pid` uses from now until `stop()`, in cores (1 = one core busy). */
export function cpuMeter(pid: number): { stop(): number } {
  const cpu0 = cpuSecondsOf(pid);
  const t0 = performance.now();
  return { stop: () => round((cpuSecondsOf(pid) - cpu0) / ((performance.now() - t0) / 1000)) };
}

/** What a measurement window cost: its length, and the CPU of the server and of this process (the load generator). */
export interface CpuWindow {
  seconds: number;
  /** Cores (1 = one core busy). */
  serverCpuCores: number;
  loadgenCpuCores: number;
}

/** Waits `ms` and measures the window: its seconds, the CPU `pid` used and the CPU this process used, in cores. */
export async function cpuWindow(pid: number, ms: number): Promise<CpuWindow> {
  const cpu = cpuMeter(pid);
  const ownCpu = process.cpuUsage();
  const t0 = performance.now();
  await sleep(ms);
  const seconds = (performance.now() - t0) / 1000;
  const serverCpuCores = cpu.stop();
  const own = process.cpuUsage(ownCpu);
  return { seconds, serverCpuCores, loadgenCpuCores: (own.user + own.system) / 1e6 / seconds };
}

/** `count` RSS samples of `pid`, `everyMs` apart, bytes. */
export async function rssSamples(pid: number, count: number, everyMs: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i) await sleep(everyMs);
    samples.push(rssOf(pid));
  }
  return samples;
}

/** The median of `count` RSS samples of `pid`, `everyMs` apart. */
export async function settledRss(pid: number, count = 3, everyMs = 1000): Promise<number> {
  const samples = await rssSamples(pid, count, everyMs);
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

export interface StreamServer {
  readonly kind: ServerKind;
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  readonly redis: RedisServer;
  /** A Prometheus sample of the process (see metric()). */
  metric(name: string): Promise<number>;
  /** The process's resident set size, bytes. */
  rss(): number;
  /** A server fed by the benchmark (nchan): from now on, publish to these pairs' channels. */
  publishTo?(pairs: readonly Pair[]): void;
  stop(): Promise<void>;
}

/** Environment for every stream process under test; `env` overrides. */
function serverEnv(base: AppProcess, redis: RedisServer, env: Record<string, string>): Record<string, string> {
  return {
    BASE_URL: base.url,
    REDIS_URL: redis.url,
    STREAM_MAX_CONNECTIONS: '20000',
    LOG_LEVEL: 'error',
    ...env,
  };
}

/**
 * Starts our stream app or the Nest baseline (test/dist/baseline/main.js) on a free port with a
 * private redis-server, so one run's locks never meet another's. The process inherits this one's
 * open-files limit (scripts/bench.mjs raises the soft limit to the hard one).
 */
export async function startServer(
  kind: ServerKind,
  base: AppProcess,
  env: Record<string, string>,
  /** Node options that NODE_OPTIONS refuses (V8 flags such as `--optimize-for-size`). */
  nodeArgs: readonly string[] = [],
): Promise<StreamServer> {
  if (kind === 'nchan') return startNchan(env);
  const root = kind === 'before' ? buildFromGit(BEFORE_COMMIT, 'before', ['apps/stream/tsconfig.app.json']) : REPO_ROOT;
  const redis = await RedisServer.start();
  try {
    const ownEnv = kind === 'today' ? { ...env, ...TODAY_ENV } : env;
    const script = kind === 'baseline' ? 'test/dist/baseline/main.js' : 'apps/stream/dist/main.js';
    const app = await launchNodeApp({
      script: join(root, script),
      label: `${kind} ${script}`,
      port: await freePort(),
      cwd: root,
      env: { HOST: '127.0.0.1', POD_NAME: kind, ...serverEnv(base, redis, ownEnv) },
      // Node refuses --cpu-prof and --trace-gc in NODE_OPTIONS: they go on the command line.
      nodeArgs: [
        ...nodeArgs,
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
        ...(process.env.BENCH_TRACE_GC ? ['--trace-gc'] : []),
      ],
      timeoutMs: 30_000,
      outputLimit: 20_000,
      killAfterMs: 10_000,
    });
    if (process.env.BENCH_TRACE_GC) traceGcTo(app, process.env.BENCH_TRACE_GC, kind);
    return {
      kind,
      url: app.url,
      port: app.port,
      pid: app.child.pid!,
      redis,
      metric: (name) => metric(app.url, name),
      rss: () => rssOf(app.child.pid!),
      stop: async () => {
        await app.stop();
        await redis.dispose();
      },
    };
  } catch (error) {
    await redis.dispose();
    throw error;
  }
}

/** Appends the app's output from now on (its `--trace-gc` lines) to `<dir>/<kind>-<pid>.log`. */
function traceGcTo(app: AppProcess, dir: string, kind: ServerKind): void {
  mkdirSync(dir, { recursive: true });
  const file = createWriteStream(join(dir, `${kind}-${app.child.pid}.log`));
  file.write(`# live at ${new Date().toISOString()}\n`);
  for (const stream of [app.child.stdout, app.child.stderr]) stream?.on('data', (chunk: Buffer) => file.write(chunk));
  app.child.once('close', () => file.end());
}

/**
 * Builds `projects` of the tree at `commit` (once per commit) into `.cache/bench-<name>/<commit>/`,
 * beside our node_modules but with its own libs under `@app`; returns that directory.
 */
export function buildFromGit(commit: string, name: string, projects: readonly string[]): string {
  const dir = join(REPO_ROOT, `.cache/bench-${name}`, commit.slice(0, 12));
  const done = join(dir, '.built');
  if (existsSync(done)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`building ${name} (${commit.slice(0, 12)}) into ${dir}`);
  // What a build needs, of what that tree has (nest-cli.json, for one, is gone from later trees).
  const present = new Set(
    execFileSync('git', ['ls-tree', '--name-only', commit], { cwd: REPO_ROOT, encoding: 'utf8' }).split('\n'),
  );
  const parts = ['apps', 'libs', 'public', 'package.json', 'tsconfig.base.json', 'tsconfig.json', 'nest-cli.json'];
  const archive = execFileSync('git', ['archive', commit, ...parts.filter((part) => present.has(part))], {
    cwd: REPO_ROOT,
    maxBuffer: 1 << 28,
  });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  mkdirSync(join(dir, 'node_modules/@app'), { recursive: true });
  for (const entry of readdirSync(join(REPO_ROOT, 'node_modules'))) {
    if (entry !== '@app') symlinkSync(join(REPO_ROOT, 'node_modules', entry), join(dir, 'node_modules', entry));
  }
  for (const lib of readdirSync(join(dir, 'libs')))
    symlinkSync(`../../libs/${lib}`, join(dir, 'node_modules/@app', lib));
  execFileSync(process.execPath, [join(REPO_ROOT, 'node_modules/typescript/bin/tsc'), '-b', ...projects], {
    cwd: dir,
    stdio: 'inherit',
  });
  writeFileSync(done, `${new Date().toISOString()}\n`);
  return dir;
}

/**
 * How many channels one multiplexed publish to nchan names: nchan takes at most 1,024 characters
 * of channel ids in one request, and a channel id is 17 (see `nchanChannel`) plus the delimiter.
 */
const NCHAN_CHANNELS_PER_PUBLISH = 56;

/** Publishes to nchan in flight at once (each on a connection of its own). */
const NCHAN_PUBLISH_LANES = 8;

/** A pair's nchan channel: the first 8 hex digits of its user and profile ids (as the location's regex takes them). */
const nchanChannel = (pair: Pair) => `${pair.userId.slice(0, 8)}_${pair.profileId.slice(0, 8)}`;

/**
 * nchan (Debian's `libnginx-mod-nchan`, installed with apt like the other services) in one nginx
 * worker: an EventSource subscriber location on `/stream/:userId/:profileId` (one channel a
 * pair, one message kept per channel) and a publisher location that takes up to 56 channels in
 * one request. `publishTo(pairs)` makes the server publish to those pairs'
 * channels at `STREAM_EVENTS_PER_SECOND`, with data shaped like ours (`{host, seq, timestamp,
 * payload}`, `STREAM_EVENT_BYTES` of payload). `pid` is the worker's (the master only forks it).
 */
export async function startNchan(env: Record<string, string>): Promise<StreamServer> {
  const { ensureDebianPackages } = (await import(join(REPO_ROOT, 'libs/infra/apt.mjs'))) as {
    ensureDebianPackages(options: { packages: string[]; log?: (line: string) => void }): Promise<void>;
  };
  const { startNginx } = (await import(join(REPO_ROOT, 'libs/infra/nginx.mjs'))) as {
    startNginx(options: Record<string, unknown>): Promise<{ pid: number; stop(): Promise<void> }>;
  };
  await ensureDebianPackages({ packages: ['libnginx-mod-nchan'], log });
  const port = await freePort();
  const dir = join(REPO_ROOT, '.cache/bench-nchan', String(port));
  mkdirSync(dir, { recursive: true });
  const nginx = await startNginx({
    dir,
    host: '127.0.0.1',
    port,
    label: 'nchan',
    log,
    config: (root: string) => `load_module /usr/lib/nginx/modules/ngx_nchan_module.so;
daemon off;
worker_processes 1;
worker_rlimit_nofile 20000;
error_log ${root}/error.log warn;
pid ${root}/nginx.pid;
events { worker_connections 19990; }
http {
  access_log off;
  client_body_temp_path ${root}/temp/body;
  proxy_temp_path ${root}/temp/proxy;
  fastcgi_temp_path ${root}/temp/fastcgi;
  uwsgi_temp_path ${root}/temp/uwsgi;
  scgi_temp_path ${root}/temp/scgi;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location ~ "^/stream/([0-9a-f]{8})[^/]*/([0-9a-f]{8})[^/]*$" {
      nchan_subscriber eventsource;
      nchan_channel_id "$1_$2";
    }
    location = /pub {
      allow 127.0.0.1;
      deny all;
      nchan_publisher;
      nchan_channel_id $arg_ids;
      nchan_channel_id_split_delimiter ",";
      nchan_message_buffer_length 1;
      nchan_message_timeout 10s;
    }
  }
}
`,
  });
  const worker = Number(readFileSync(`/proc/${nginx.pid}/task/${nginx.pid}/children`, 'utf8').trim().split(/\s+/)[0]);
  if (!Number.isSafeInteger(worker)) throw new Error('nchan: no nginx worker process');
  const periodMs = 1000 / Number(env.STREAM_EVENTS_PER_SECOND ?? '1');
  const payload = 'x'.repeat(Number(env.STREAM_EVENT_BYTES ?? '64'));
  let channels: string[] = [];
  let seq = 0;
  let publishing: Promise<unknown> = Promise.resolve();
  const url = `http://127.0.0.1:${port}`;
  const publish = async () => {
    seq++;
    const data = JSON.stringify({ host: 'nchan', seq, timestamp: Date.now(), payload });
    const groups: string[] = [];
    for (let i = 0; i < channels.length; i += NCHAN_CHANNELS_PER_PUBLISH) {
      groups.push(channels.slice(i, i + NCHAN_CHANNELS_PER_PUBLISH).join(','));
    }
    // A few publishes in flight, so the publisher's connections leave the worker's to subscribers.
    let next = 0;
    const lane = async () => {
      while (next < groups.length) {
        const ids = groups[next++]!;
        await fetch(`${url}/pub?ids=${ids}`, { method: 'POST', body: data, signal: AbortSignal.timeout(5000) }).then(
          (response) => response.arrayBuffer(),
          () => undefined,
        );
      }
    };
    await Promise.all(Array.from({ length: NCHAN_PUBLISH_LANES }, lane));
  };
  const ticker = setInterval(() => {
    // One publish round at a time: a slow round skips a tick rather than piling up.
    publishing = publishing.then(publish);
  }, periodMs);
  ticker.unref();
  return {
    kind: 'nchan',
    url,
    port,
    pid: worker,
    redis: undefined as unknown as RedisServer,
    metric: async () => Number.NaN,
    rss: () => rssOf(worker),
    publishTo: (pairs) => {
      channels = [...new Set(pairs.map(nchanChannel))];
    },
    stop: async () => {
      clearInterval(ticker);
      await publishing;
      await nginx.stop();
    },
  };
}

/** A Prometheus sample of our stream app (`name` with no labels); NaN if absent. */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const match = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

// --- the system: base, main and the pairs ----------------------------------------------------

export interface System {
  readonly base: AppProcess;
  readonly main: AppProcess;
  readonly pairs: Pair[];
  stop(): Promise<void>;
}

/**
 * base and main on the bench keyspace, with at least `pairs` bound pairs (created once through
 * `POST /main/testdata`, 20 users per profile, and reused by the later benchmarks of the run).
 */
export async function startSystem(pairs: number): Promise<System> {
  testInfra();
  const base = await startApp('base', { CASSANDRA_KEYSPACE: KEYSPACE, ADMIN_TOKEN, LOG_LEVEL: 'error' }, 60_000);
  let main: AppProcess | undefined;
  try {
    main = await startApp('main', { BASE_URL: base.url, ADMIN_TOKEN, LOG_LEVEL: 'error' });
    let have = await readPairs(base.url, '');
    if (have.length < pairs) {
      const created = await createTestdata(main.url, ADMIN_TOKEN, pairs - have.length, 20, have.length + 6);
      log(
        `test data: ${created.users} users in ${created.profiles} profiles created through main in ${created.seconds.toFixed(1)} s`,
      );
      have = await readPairs(base.url, '');
    }
    log(`${have.length} bound pairs in keyspace ${KEYSPACE}`);
    const system: System = {
      base,
      main,
      pairs: have,
      stop: async () => {
        await main!.stop();
        await base.stop();
      },
    };
    return system;
  } catch (error) {
    await main?.stop();
    await base.stop();
    throw error;
  }
}

/** How a comparison figure runs its stream processes. */
export interface KindLoop<K extends string, O extends K = never> {
  /** Bound pairs base must hold (see startSystem). */
  pairs: number;
  /** The kinds compared, in the order they run. */
  kinds: readonly K[];
  /** The stream process's environment, the same for every kind. */
  env: Record<string, string>;
  /**
   * Which server a kind runs; default the kind itself (a figure that varies something else runs
   * `ours` each time). Required where a kind is not a ServerKind.
   */
  serverOf?: (kind: K) => ServerKind;
  /** Node options of a kind's process (see startServer); default none. */
  nodeArgsOf?: (kind: K) => readonly string[];
  /** Environment of a kind's process over `env`; default none. */
  envOf?: (kind: K) => Record<string, string>;
  /**
   * Kinds that only explain the figure: a failure of one (its process or its measurement) is
   * handed to `failed` and its result left out, instead of failing the figure.
   */
  optional?: { kinds: readonly O[]; failed: (kind: O, error: unknown) => void };
}

/**
 * The loop of a comparison figure: base and main with at least `loop.pairs` pairs, then for each
 * kind in turn its stream process (startServer, a private redis-server), `measure(kind, server,
 * system)`, and that process stopped whatever `measure` did; base and main are stopped before it
 * settles. Resolves to each kind's result; rejects with the first failure of a kind that is not
 * optional, after stopping all.
 */
export async function forEachKind<K extends string, R, O extends K = never>(
  loop: KindLoop<K, O>,
  measure: (kind: K, server: StreamServer, system: System) => Promise<R>,
): Promise<Record<Exclude<K, O>, R> & Partial<Record<O, R>>> {
  const system = await startSystem(loop.pairs);
  const results: Partial<Record<K, R>> = {};
  try {
    for (const kind of loop.kinds) {
      try {
        const server = await startServer(
          loop.serverOf?.(kind) ?? (kind as string as ServerKind),
          system.base,
          { ...loop.env, ...loop.envOf?.(kind) },
          loop.nodeArgsOf?.(kind),
        );
        try {
          results[kind] = await measure(kind, server, system);
        } finally {
          await server.stop();
        }
      } catch (error) {
        const optional = loop.optional;
        if (!optional?.kinds.includes(kind as O)) throw error;
        optional.failed(kind as O, error);
      }
    }
  } finally {
    await system.stop();
  }
  return results as Record<Exclude<K, O>, R> & Partial<Record<O, R>>;
}

// --- load ------------------------------------------------------------------------------------

export type BenchLoad = Partial<Omit<LoadOptions, 'targets' | 'pairs'>> & { targets: string[]; pairs: readonly Pair[] };

/** A load generator with the bench defaults (fast readers, 16 source addresses, quiet unless BENCH_VERBOSE). */
export function loadGenerator(options: BenchLoad, label = ''): LoadGenerator {
  const streams = options.streams ?? options.pairs.length;
  return new LoadGenerator({
    streams,
    ramp: { clients: streams, everySeconds: 1 },
    durationSeconds: 3600,
    intervalSeconds: 1,
    mix: { fast: 100, slow: 0, stalled: 0 },
    slowKBps: 32,
    stallAfterSeconds: 0,
    stallForSeconds: Infinity,
    holdSeconds: Infinity,
    sourceAddresses: loopbackSources(16),
    connectConcurrency: 200,
    handshakeTimeoutSeconds: 30,
    onInterval: process.env.BENCH_VERBOSE ? (sample) => console.log(`    ${label}${progressLine(sample)}`) : undefined,
    ...options,
  });
}

/** A measurement window over running load generators: its CPU, and what their fast readers got in it. */
export interface LoadWindow extends CpuWindow {
  /** The fast readers' counters over the window, summed over the generators. */
  fast: Counters;
  /** Streams live (all generators) at the start and at the end of the window. */
  liveAtStart: number;
  live: number;
  /** The worst per-interval delivery latency p99 of fast readers in the window, ms; null without events. */
  latencyP99Ms: number | null;
}

/** Measures a window of `ms` over `generators` (cpuWindow on `pid`), with the fast readers' counters in it. */
export async function loadWindow(pid: number, generators: readonly LoadGenerator[], ms: number): Promise<LoadWindow> {
  const before = generators.map((g) => g.snapshot());
  const cpu = await cpuWindow(pid, ms);
  const after = generators.map((g) => g.snapshot());
  const latencies = generators.flatMap((g) => g.recentLatencyP99(Math.round(ms / 1000)));
  return {
    ...cpu,
    fast: after.reduce((sum, s, i) => sum.add(s.fast.since(before[i]!.fast)), new Counters()),
    liveAtStart: before.reduce((sum, s) => sum + s.live, 0),
    live: after.reduce((sum, s) => sum + s.live, 0),
    latencyP99Ms: latencies.length ? Math.max(...latencies) : null,
  };
}

/** Stops a generator and returns its result (quietly summarised in the log). */
export async function finish(generator: LoadGenerator): Promise<LoadResult> {
  return generator.stop();
}

// --- results ---------------------------------------------------------------------------------

export interface FigureRow {
  /** What is measured, e.g. "RSS per idle connection at 5,000". */
  metric: string;
  unit: string;
  ours: number | null;
  baseline: number | null;
  /** The goal as text, e.g. "≤ 16"; empty when there is none (reported only). */
  goal: string;
  /** Whether ours meets the goal; null without a goal. */
  met: boolean | null;
  /** Which direction is better, for reading the ratio. */
  better: 'lower' | 'higher';
  note?: string;
}

export interface FigureFragment {
  figure: string;
  name: string;
  title: string;
  startedAt: string;
  seconds: number;
  scale: 'full' | 'smoke';
  rows: FigureRow[];
  /** Everything else measured: per-level figures, load generator summaries, process figures. */
  details: Record<string, unknown>;
  /** What limits a missed figure, as measured. */
  findings: string[];
}

/** NaN and ±Infinity become null, so the JSON stays valid. */
export function numberOrNull(value: number | undefined | null): number | null {
  return value === undefined || value === null || !Number.isFinite(value) ? null : round(value);
}

/** The optional columns of a row. */
export interface RowOptions {
  /** The goal as text, a comparison and a number: `≤ 16`, `≥ 2,000`, `< 300`, `> 0`, `= 0`. */
  goal?: string;
  /** Default `lower`. */
  better?: FigureRow['better'];
  note?: string | undefined;
}

const GOAL = /^(≤|≥|<|>|=) (\d[\d,]*(?:\.\d+)?)$/;
const GOAL_TESTS: Record<string, (value: number, limit: number) => boolean> = {
  '≤': (v, limit) => v <= limit,
  '≥': (v, limit) => v >= limit,
  '<': (v, limit) => v < limit,
  '>': (v, limit) => v > limit,
  '=': (v, limit) => v === limit,
};

/** Whether `value` meets the goal `text` (see RowOptions.goal). */
export function meetsGoal(text: string, value: number): boolean {
  const match = GOAL.exec(text);
  if (!match) throw new Error(`a goal is a comparison and a number, e.g. "≤ 16" (got "${text}")`);
  return GOAL_TESTS[match[1]!]!(value, Number(match[2]!.replaceAll(',', '')));
}

/** One row of a figure's table. */
export function row(
  metric: string,
  unit: string,
  ours: number | null | undefined,
  baseline: number | null | undefined,
  { goal, better = 'lower', note }: RowOptions = {},
): FigureRow {
  const o = numberOrNull(ours);
  return {
    metric,
    unit,
    ours: o,
    baseline: numberOrNull(baseline),
    goal: goal ?? '',
    met: goal ? o !== null && meetsGoal(goal, o) : null,
    better,
    ...(note ? { note } : {}),
  };
}

/** A figure read from one side of a comparison. */
export type Measure<T> = (side: T) => number | null | undefined;

/** A benchmark's figure: collects rows and details, and writes the fragment when done. */
export class Figure {
  readonly rows: FigureRow[] = [];
  readonly details: Record<string, unknown> = {};
  readonly findings: string[] = [];
  private readonly started = performance.now();
  private readonly startedAt = new Date().toISOString();

  constructor(
    readonly figure: string,
    readonly name: string,
    readonly title: string,
  ) {
    console.log(`figure ${figure}: ${title}${SMOKE ? ' (smoke scale)' : ''}`);
  }

  /** Adds a row to the table (see row()) and prints it. */
  add(...columns: Parameters<typeof row>): void {
    const r = row(...columns);
    this.rows.push(r);
    const show = (v: number | null) => (v === null ? '–' : String(v));
    const ratio = r.ours !== null && r.baseline ? ` (×${(r.ours / r.baseline).toFixed(2)} of baseline)` : '';
    const goal = r.goal ? `; goal ${r.goal} → ${r.met ? 'met' : 'MISSED'}` : '';
    console.log(
      `  ▸ ${r.metric}: ours ${show(r.ours)} ${r.unit}, baseline ${show(r.baseline)} ${r.unit}${ratio}${goal}`,
    );
  }

  /**
   * Rows that read the same figure from ours and from the baseline: `add(metric, unit, value,
   * options)` adds the row of `value(ours)` against `value(baseline)`.
   */
  versus<T>(
    ours: T,
    baseline: T,
  ): { add(metric: string, unit: string, value: Measure<T>, options?: RowOptions): void } {
    return { add: (metric, unit, value, options) => this.add(metric, unit, value(ours), value(baseline), options) };
  }

  finding(text: string): void {
    this.findings.push(text);
    console.log(`  ! ${text}`);
  }

  /** Writes `<BENCH_RESULTS_DIR>/<name>.json` (default test-results/bench/). */
  write(): FigureFragment {
    const fragment: FigureFragment = {
      figure: this.figure,
      name: this.name,
      title: this.title,
      startedAt: this.startedAt,
      seconds: round((performance.now() - this.started) / 1000),
      scale: SMOKE ? 'smoke' : 'full',
      rows: this.rows,
      details: this.details,
      findings: this.findings,
    };
    const file = resolve(process.env.BENCH_RESULTS_DIR ?? join(REPO_ROOT, 'test-results/bench'), `${this.name}.json`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      `${JSON.stringify(fragment, (_key, value) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`,
    );
    console.log(`  figure ${this.figure} done in ${fragment.seconds.toFixed(0)} s → ${file}`);
    return fragment;
  }
}

/** Compact summary of a load result for a fragment's details (no per-interval series). */
export function loadSummary(result: LoadResult): Record<string, unknown> {
  const { series: _series, options: _options, ...rest } = result;
  return rest;
}

// --- steady request rates ---------------------------------------------------------------------

/** What an open-loop run at a steady rate measured. */
export interface Steady {
  latency: Percentiles;
  sent: number;
  errors: number;
  achievedPerSecond: number;
}

/** Sends `rate` requests a second for `seconds`, on schedule, and reports latency from each request's send. */
export async function steadyRate(
  rate: number,
  seconds: number,
  call: (i: number) => Promise<boolean>,
): Promise<Steady> {
  const latency = new Histogram();
  const pending: Promise<void>[] = [];
  let errors = 0;
  let sent = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - started) / 1000) * rate);
    while (sent < due) {
      const t0 = performance.now();
      const i = sent++;
      pending.push(
        call(i).then(
          (ok) => {
            latency.record(performance.now() - t0);
            if (!ok) errors++;
          },
          () => {
            errors++;
          },
        ),
      );
    }
    await sleep(1);
  }
  await Promise.all(pending);
  return { latency: latency.summary(), sent, errors, achievedPerSecond: sent / ((performance.now() - started) / 1000) };
}

/** The JVM's stops of one window: every safepoint (GC pauses included), from a `-Xlog:gc,safepoint` log. */
export interface JvmStops {
  /** Safepoints in the window, their summed and longest stop (reaching it included), ms. */
  safepoints: number;
  totalMs: number;
  maxMs: number;
  /** GC pauses in the window: `<kind> <ms>`, as the log names them. */
  gcPauses: string[];
}

/**
 * The stops a JVM logged (decorators `time,…`, see libs/infra/cassandra.mjs) between `fromMs` and
 * `toMs` (epoch ms); undefined without a log (a Cassandra not started by the benchmark).
 */
export function jvmStops(logFile: string | undefined, fromMs: number, toMs: number): JvmStops | undefined {
  if (!logFile || !existsSync(logFile)) return undefined;
  const stops: JvmStops = { safepoints: 0, totalMs: 0, maxMs: 0, gcPauses: [] };
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const time = /^\[(\d{4}-\d\d-\d\dT[\d:.]+)([+-]\d\d)(\d\d)\]/.exec(line);
    if (!time) continue;
    const at = Date.parse(`${time[1]}${time[2]}:${time[3]}`);
    if (at < fromMs || at > toMs) continue;
    const safepoint = /Total: (\d+) ns/.exec(line);
    if (safepoint) {
      const ms = Number(safepoint[1]) / 1e6;
      stops.safepoints++;
      stops.totalMs += ms;
      stops.maxMs = Math.max(stops.maxMs, ms);
    }
    const pause = /\] GC\(\d+\) (Pause .*?) ([\d.]+)ms$/.exec(line);
    if (pause) stops.gcPauses.push(`${pause[1]!.replace(/\s*\(.*?\)/g, '')} ${pause[2]} ms`);
  }
  stops.totalMs = round(stops.totalMs);
  stops.maxMs = round(stops.maxMs);
  return stops;
}
