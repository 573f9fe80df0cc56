// `npm run bench -- idle` — figure a: idle streams held by one stream process and what each costs,
// at 5,000, 15,000 and 19,000, side by side in one run: ours, ours before the density work
// (`before`, built from git), the plain Nest `@Sse()` baseline, and nchan (nginx).
//
// "Idle": 1 event/s of 64 bytes (the least the config allows) and the 15 s heartbeat; every stream
// of ours still holds its socket, session and its lock (renewed every 5 s). Per-stream RSS is
// (RSS with N streams − RSS after a warm-up round with none open) ÷ N, RSS as the kernel reports
// it (heap head-room included). For ours and `before` also the V8 heap, the kernel's memory of the
// process's sockets, and the lock server's load; for ours, at the top level, a hold of
// `BENCH_IDLE_HOLD_S` (default 300 s) with 10 new streams/s meanwhile: gaps, TTFE and RSS slope.
//
// `BENCH_IDLE_KINDS=ours,before,…` runs only those, `BENCH_IDLE_LEVELS=5000,15000` only those levels; `BENCH_IDLE_NODE_FLAGS='--a;--b --c;NAME=value --d'` adds a
// run of ours per `;`-separated set of V8 flags (they only explain the figure).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import {
  cpuMeter,
  cpuSecondsOf,
  Figure,
  forEachKind,
  type KindLoop,
  loadGenerator,
  loadSummary,
  log,
  mb,
  scale,
  serverSocketMemory,
  type ServerKind,
  settledRss,
  sleep,
  SMOKE,
  type StreamServer,
} from '../load/bench-kit.js';
import type { LoadGenerator } from '../load/load-generator.js';

const { LEVELS, WARM_UP, SETTLE_MS, WINDOW_MS, HOLD_S, HOLD_SAMPLE_MS, PROBES } = scale({
  full: {
    LEVELS: process.env.BENCH_IDLE_LEVELS?.split(',').map(Number) ?? [5000, 15_000, 19_000],
    WARM_UP: 200,
    SETTLE_MS: 5000,
    WINDOW_MS: 15_000,
    HOLD_S: Number(process.env.BENCH_IDLE_HOLD_S ?? 300),
    HOLD_SAMPLE_MS: 10_000,
    PROBES: 200,
  },
  smoke: {
    LEVELS: [10, 20],
    WARM_UP: 10,
    SETTLE_MS: 1000,
    WINDOW_MS: 2000,
    HOLD_S: 4,
    HOLD_SAMPLE_MS: 1000,
    PROBES: 5,
  },
});
const ENV = { STREAM_EVENTS_PER_SECOND: '1', STREAM_EVENT_BYTES: '64' };
const KIB = 1024;
const PROBE_RATE = 10;

interface Level {
  streams: number;
  live: number;
  openSeconds: number;
  rssBytes: number;
  perStreamKiB: number;
  /** CPU of the server over the window, cores; the load average beside it. */
  serverCpuCores: number;
  loadAverage: number[];
  /** Events the readers got in the window, per stream and second, and `seq` gaps (ours, before, baseline). */
  eventsPerStreamSecond: number;
  gaps: number;
  loadgenRssBytes: number;
  /** The kernel's memory of the server's sockets (`ss -tm`), per stream, and /proc/net/sockstat's TCP pages. */
  socketKiBPerStream: number;
  sockstatTcpMemBytes: number;
  /** Node servers: V8 heap used and committed, and external memory, bytes. */
  heap?: { used: number; total: number; external: number };
  /** Ours and before: the lock server (their redis-server) over the window. */
  lockServer?: { cpuCores: number; commandsPerSecond: number; commandsPerStreamSecond: number };
}

interface Hold {
  seconds: number;
  /** RSS samples (bytes) every HOLD_SAMPLE_MS, from the start of the hold. */
  rssSamples: number[];
  /** Least-squares slope of RSS after the first minute, MB per minute, and per stream, bytes per minute. */
  rssSlopeMBPerMinute: number;
  gaps: number;
  live: number;
  ttfe: { p50: number; p99: number; opened: number; failed: number };
  serverCpuCores: number;
  loadAverage: number[];
}

type Run = ServerKind | `ours ${string}`;
const FLAG_SETS = (process.env.BENCH_IDLE_NODE_FLAGS ?? '')
  .split(';')
  .map((flags) => flags.trim())
  .filter(Boolean);
const FLAG_RUNS = FLAG_SETS.map((flags) => `ours ${flags}` as Run);
const ENV_WORD = /^[A-Z][A-Z0-9_]*=/;
const flagWords = (run: Run): string[] => (run.startsWith('ours ') ? run.slice('ours '.length).split(/\s+/) : []);
const DEFAULT_KINDS: ServerKind[] = ['ours', 'before', 'baseline', 'nchan'];
const KINDS = (
  process.env.BENCH_IDLE_KINDS?.split(',').map((kind) => kind.trim() as ServerKind) ?? DEFAULT_KINDS
).filter(Boolean);
const NODE_KINDS = new Set<ServerKind>(['ours', 'before', 'today']);

const figure = new Figure('a', 'idle', 'idle streams held; memory and CPU per stream at 5k, 15k and 19k, with nchan');
const loop: KindLoop<Run, Run> = {
  pairs: LEVELS.at(-1)! + PROBES + 10,
  kinds: [...KINDS, ...FLAG_RUNS],
  env: ENV,
  serverOf: (run) => (run.startsWith('ours ') ? 'ours' : (run as ServerKind)),
  // A flag set's `NAME=value` words are the run's environment, the rest its node options.
  nodeArgsOf: (run) => flagWords(run).filter((word) => !ENV_WORD.test(word)),
  envOf: (run) =>
    Object.fromEntries(
      flagWords(run)
        .filter((word) => ENV_WORD.test(word))
        .map((word) => [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)]),
    ),
  optional: {
    // Only ours must complete; every other run explains the figure, and its failure is reported.
    kinds: [...KINDS.filter((kind) => kind !== 'ours'), ...FLAG_RUNS],
    failed: (run, error) =>
      figure.finding(`the ${run} run failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`),
  },
};

/** Host-wide TCP memory, bytes (`/proc/net/sockstat` "TCP: … mem <pages>"). */
function sockstatTcpMem(): number {
  const match = /^TCP:.* mem (\d+)/m.exec(readFileSync('/proc/net/sockstat', 'utf8'));
  return match ? Number(match[1]) * 4096 : Number.NaN;
}

const loadAverage = () => os.loadavg().map((v) => Number(v.toFixed(2)));

/** Commands the server has processed (`INFO stats`), through redis-cli-free RESP over a socket. */
async function redisCommands(server: StreamServer): Promise<number> {
  const { Redis } = await import('ioredis');
  const client = new Redis(server.redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await client.connect();
    const info = await client.info('stats');
    return Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? Number.NaN);
  } finally {
    client.disconnect();
  }
}

/** Least-squares slope of `samples` taken `everyMs` apart, units per minute. */
function slopePerMinute(samples: readonly number[], everyMs: number): number {
  const n = samples.length;
  if (n < 2) return Number.NaN;
  const xs = samples.map((_, i) => (i * everyMs) / 60_000);
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = samples.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (samples[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return num / den;
}

const results = await forEachKind(loop, async (run, server, system) => {
  const generators: LoadGenerator[] = [];
  const isNode = NODE_KINDS.has(server.kind);
  const countsGaps = server.kind !== 'nchan';
  try {
    // Warm-up: JIT, pools and heap sized by a first round, so the reference is a process that has served streams.
    server.publishTo?.(system.pairs.slice(0, WARM_UP));
    const warm = loadGenerator({ targets: [server.url], pairs: system.pairs.slice(0, WARM_UP) });
    await warm.runUntilStreaming(30_000);
    await warm.stop();
    await sleep(2000);
    const rssBefore = await settledRss(server.pid);
    const heapBefore = isNode ? await server.metric('nodejs_heap_size_used_bytes') : Number.NaN;
    const socketsBefore = serverSocketMemory(server.port).bytes;
    log(`${run}: RSS after warm-up, no stream open: ${mb(rssBefore)}`);
    const levels: Level[] = [];
    let opened = 0;
    for (const level of LEVELS) {
      const started = performance.now();
      server.publishTo?.(system.pairs.slice(0, level));
      const generator = loadGenerator({ targets: [server.url], pairs: system.pairs.slice(opened, level) }, `${run} `);
      generators.push(generator);
      await generator.runUntilStreaming(240_000);
      const openSeconds = (performance.now() - started) / 1000;
      opened = level;
      await sleep(SETTLE_MS);
      // The window: CPU of the server (and of its lock server), what the readers got.
      const snapshots = () => generators.map((g) => g.snapshot());
      const before = snapshots();
      const commandsBefore = isNode ? await redisCommands(server) : Number.NaN;
      const redisPid = isNode ? server.redis.pid : undefined;
      const redisCpuBefore = redisPid ? cpuSecondsOf(redisPid) : Number.NaN;
      const cpu = cpuMeter(server.pid);
      const t0 = performance.now();
      await sleep(WINDOW_MS);
      const serverCpuCores = cpu.stop();
      const seconds = (performance.now() - t0) / 1000;
      const after = snapshots();
      const commands = isNode ? (await redisCommands(server)) - commandsBefore : Number.NaN;
      const redisCpu = redisPid ? cpuSecondsOf(redisPid) - redisCpuBefore : Number.NaN;
      const live = after.reduce((sum, s) => sum + s.live, 0);
      const messages = after.reduce((sum, s, i) => sum + s.fast.messages - before[i]!.fast.messages, 0);
      const gaps = after.reduce((sum, s, i) => sum + s.fast.gaps - before[i]!.fast.gaps, 0);
      const rssBytes = await settledRss(server.pid);
      const sockets = serverSocketMemory(server.port);
      const result: Level = {
        streams: level,
        live,
        openSeconds,
        rssBytes,
        perStreamKiB: (rssBytes - rssBefore) / live / KIB,
        serverCpuCores,
        loadAverage: loadAverage(),
        eventsPerStreamSecond: messages / live / seconds,
        gaps: countsGaps ? gaps : Number.NaN,
        loadgenRssBytes: process.memoryUsage.rss(),
        socketKiBPerStream: (sockets.bytes - socketsBefore) / live / KIB,
        sockstatTcpMemBytes: sockstatTcpMem(),
        ...(isNode
          ? {
              heap: {
                used: await server.metric('nodejs_heap_size_used_bytes'),
                total: await server.metric('nodejs_heap_size_total_bytes'),
                external: await server.metric('nodejs_external_memory_bytes'),
              },
              lockServer: {
                cpuCores: redisCpu / seconds,
                commandsPerSecond: commands / seconds,
                commandsPerStreamSecond: commands / seconds / live,
              },
            }
          : {}),
      };
      levels.push(result);
      log(
        `${run}: ${live}/${level} streams (opened in ${openSeconds.toFixed(1)} s), RSS ${mb(rssBytes)} → ` +
          `${result.perStreamKiB.toFixed(1)} KiB per stream, CPU ${serverCpuCores} cores (load ${result.loadAverage.join(' ')}), ` +
          `${result.eventsPerStreamSecond.toFixed(2)} events/s per stream, gaps ${result.gaps}, sockets ${result.socketKiBPerStream.toFixed(1)} KiB per stream` +
          (result.heap
            ? `, heap used ${mb(result.heap.used)} of ${mb(result.heap.total)}; lock server ${result.lockServer!.cpuCores.toFixed(3)} cores, ${result.lockServer!.commandsPerSecond.toFixed(0)} commands/s`
            : ''),
      );
    }
    const hold = run === 'ours' && HOLD_S > 0 ? await holdTop(server, generators, system.pairs) : undefined;
    figure.details[run] = {
      rssBeforeBytes: rssBefore,
      heapUsedBeforeBytes: heapBefore,
      levels,
      hold,
      rssAtEndBytes: server.rss(),
      ...(isNode ? { lockLostTotal: await server.metric('stream_lock_lost_total') } : {}),
      generators: (await Promise.all(generators.map((g) => g.stop()))).map(loadSummary),
    };
    return { rssBefore, heapBefore, levels, hold };
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
  }
});

/**
 * The top level held `HOLD_S` seconds: RSS sampled, 10 new streams/s opened (each closed at its
 * first event, on pairs beyond the held ones) for their time to first event, gaps of the held streams.
 */
async function holdTop(
  server: StreamServer,
  generators: readonly LoadGenerator[],
  pairs: readonly { userId: string; profileId: string }[],
): Promise<Hold> {
  const pool = pairs.slice(LEVELS.at(-1)!, LEVELS.at(-1)! + PROBES);
  const streams = PROBE_RATE * HOLD_S;
  const probe = loadGenerator({
    targets: [server.url],
    pairs: Array.from({ length: streams }, (_, i) => pool[i % pool.length]!),
    streams,
    ramp: { clients: 1, everySeconds: 1 / PROBE_RATE },
    holdSeconds: 0,
    durationSeconds: HOLD_S + 60,
    connectConcurrency: 1000,
  });
  log(`ours: holding ${LEVELS.at(-1)} streams for ${HOLD_S} s with ${PROBE_RATE} new streams/s`);
  const before = generators.map((g) => g.snapshot());
  const cpu = cpuMeter(server.pid);
  const rssSamples: number[] = [];
  const probeDone = probe.runUntilStreaming((HOLD_S + 30) * 1000);
  const end = performance.now() + HOLD_S * 1000;
  while (performance.now() < end) {
    rssSamples.push(server.rss());
    await sleep(Math.min(HOLD_SAMPLE_MS, Math.max(0, end - performance.now())));
  }
  const serverCpuCores = cpu.stop();
  await probeDone;
  const result = await probe.stop();
  const after = generators.map((g) => g.snapshot());
  const warmSamples = Math.ceil(60_000 / HOLD_SAMPLE_MS);
  const steady = rssSamples.length > warmSamples + 2 ? rssSamples.slice(warmSamples) : rssSamples;
  const hold: Hold = {
    seconds: HOLD_S,
    rssSamples,
    rssSlopeMBPerMinute: slopePerMinute(steady, HOLD_SAMPLE_MS) / 1e6,
    gaps: after.reduce((sum, s, i) => sum + s.fast.gaps - before[i]!.fast.gaps, 0),
    live: after.reduce((sum, s) => sum + s.live, 0),
    ttfe: {
      p50: result.ttfe.p50,
      p99: result.ttfe.p99,
      opened: result.totals.firstEvents,
      failed: Object.values(result.totals.errors).reduce((a, b) => a + b, 0),
    },
    serverCpuCores,
    loadAverage: loadAverage(),
  };
  log(
    `ours: held ${hold.live} for ${HOLD_S} s: gaps ${hold.gaps}, TTFE p50 ${hold.ttfe.p50} / p99 ${hold.ttfe.p99} ms ` +
      `(${hold.ttfe.opened} opened, ${hold.ttfe.failed} failed), RSS ${mb(rssSamples[0]!)} → ${mb(rssSamples.at(-1)!)}, ` +
      `slope after the first minute ${hold.rssSlopeMBPerMinute.toFixed(2)} MB/min, CPU ${serverCpuCores} cores (load ${hold.loadAverage.join(' ')})`,
  );
  return hold;
}

// --- the table: ours against the implementation before this change; the others in their own rows.
if (!results.ours) {
  // A run without ours (BENCH_IDLE_KINDS): its figures are in the details only.
  figure.write();
  process.exit(0);
}
const ours = results.ours;
const before = results.before;
const top = LEVELS.length - 1;
const at = (levels: Level[] | undefined, i: number) => levels?.[i];
const held = LEVELS[top]!.toLocaleString('en');
figure.add(`idle streams held (of ${held} opened)`, 'streams', ours.levels[top]!.live, at(before?.levels, top)?.live, {
  goal: `≥ ${SMOKE ? LEVELS[top] : '19,000'}`,
  better: 'higher',
  note: 'baseline column: ours before this change',
});
for (const [i, level] of LEVELS.entries()) {
  const n = level.toLocaleString('en');
  const others = (['baseline', 'nchan', ...FLAG_RUNS] as Run[])
    .map((run) => [run, results[run]?.levels[i]?.perStreamKiB] as const)
    .filter(([, value]) => value !== undefined)
    .map(([run, value]) => `${run} ${value!.toFixed(1)}`)
    .join(', ');
  figure.add(`RSS per idle stream at ${n}`, 'KiB', ours.levels[i]!.perStreamKiB, at(before?.levels, i)?.perStreamKiB, {
    goal: '≤ 10',
    note: others ? `KiB: ${others}` : undefined,
  });
  const heapPer = (r: typeof ours | undefined) => {
    const l = r?.levels[i];
    return l?.heap ? (l.heap.used - r!.heapBefore) / l.live / KIB : undefined;
  };
  figure.add(`V8 heap used per stream at ${n}`, 'KiB', heapPer(ours), heapPer(before), {
    note: `heap committed ${mb(ours.levels[i]!.heap?.total ?? Number.NaN)} (before: ${mb(at(before?.levels, i)?.heap?.total ?? Number.NaN)})`,
  });
  figure.add(
    `kernel socket memory per stream at ${n}`,
    'KiB',
    ours.levels[i]!.socketKiBPerStream,
    at(before?.levels, i)?.socketKiBPerStream,
  );
  figure.add(
    `CPU holding ${n} idle streams`,
    'cores',
    ours.levels[i]!.serverCpuCores,
    at(before?.levels, i)?.serverCpuCores,
    {
      ...(level === 15_000 || SMOKE ? { goal: '≤ 0.3' } : {}),
      note:
        `load average ${ours.levels[i]!.loadAverage[0]}` +
        (['baseline', 'nchan'] as Run[])
          .map((run) => (results[run]?.levels[i] ? `; ${run} ${results[run]!.levels[i]!.serverCpuCores} cores` : ''))
          .join(''),
    },
  );
  figure.add(`seq gaps at ${n}`, 'events', ours.levels[i]!.gaps, at(before?.levels, i)?.gaps, { goal: '= 0' });
}
const lock = (r: typeof ours | undefined) => r?.levels[top]?.lockServer;
figure.add(
  `lock server commands per stream per second at ${held}`,
  'commands',
  lock(ours)?.commandsPerStreamSecond,
  lock(before)?.commandsPerStreamSecond,
  { note: `lock server CPU ${lock(ours)?.cpuCores.toFixed(3)} cores (before ${lock(before)?.cpuCores.toFixed(3)})` },
);
if (ours.hold) {
  const h = ours.hold;
  figure.add(`held ${held} for ${h.seconds} s: seq gaps`, 'events', h.gaps, null, { goal: '= 0' });
  figure.add(`TTFE p99 at ${PROBE_RATE} new/s meanwhile`, 'ms', h.ttfe.p99, null, {
    goal: '≤ 50',
    note: `p50 ${h.ttfe.p50} ms, ${h.ttfe.opened} opened, ${h.ttfe.failed} failed`,
  });
  figure.add('RSS slope after the first minute', 'MB/min', h.rssSlopeMBPerMinute, null, {
    note: `RSS ${mb(h.rssSamples[0]!)} → ${mb(h.rssSamples.at(-1)!)}; CPU ${h.serverCpuCores} cores, load ${h.loadAverage[0]}`,
  });
}
const loadgen = ours.levels[top]!.loadgenRssBytes / 1e6;
figure.add(`load generator RSS holding ${held} streams`, 'MB', loadgen, null, { goal: '< 400' });
for (const [i, level] of ours.levels.entries()) {
  if (level.perStreamKiB > 10) {
    const heapPer = level.heap ? (level.heap.used - ours.heapBefore) / level.live / KIB : Number.NaN;
    figure.finding(
      `ours at ${level.streams}: ${level.perStreamKiB.toFixed(1)} KiB RSS per idle stream (RSS ${mb(ours.rssBefore)} → ${mb(level.rssBytes)}), ` +
        `of which V8 heap used ${heapPer.toFixed(1)} KiB (heap committed ${mb(level.heap?.total ?? Number.NaN)}); ` +
        FLAG_RUNS.map((run) => `${run}: ${results[run]?.levels[i]?.perStreamKiB.toFixed(1) ?? '–'} KiB`).join('; '),
    );
  }
}
figure.write();
