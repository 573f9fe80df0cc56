// `npm run bench -- idle` — figure a: idle connections held by one stream process, and
// its resident memory per connection at 5,000 and at 15,000, ours against the Nest `@Sse()` baseline.
//
// "Idle": 1 event/s of 64 bytes (the least the config allows) and the 15 s heartbeat; every stream
// still holds its socket, session, timers and its lock (renewed every 5 s). Per-connection RSS is
// (RSS with N streams − RSS after a warm-up round with none open) ÷ N.
import {
  cpuMeter,
  Figure,
  loadGenerator,
  loadSummary,
  log,
  mb,
  scale,
  SERVER_KINDS,
  type ServerKind,
  settledRss,
  sleep,
  SMOKE,
  forEachKind,
  type KindLoop,
} from '../load/bench-kit.js';
import type { LoadGenerator } from '../load/load-generator.js';

const { LEVELS, WARM_UP, SETTLE_MS } = scale({
  full: { LEVELS: [5000, 15_000], WARM_UP: 200, SETTLE_MS: 5000 },
  smoke: { LEVELS: [10, 20], WARM_UP: 10, SETTLE_MS: 1000 },
});
const ENV = { STREAM_EVENTS_PER_SECOND: '1', STREAM_EVENT_BYTES: '64' };
const KIB = 1024;

interface Level {
  streams: number;
  live: number;
  openSeconds: number;
  rssBytes: number;
  perConnectionKiB: number;
  serverCpuCores: number;
  loadgenRssBytes: number;
  /** Ours only (its /metrics): V8 heap used and committed, and external memory, bytes. */
  heap?: { used: number; total: number; external: number };
}

const figure = new Figure('a', 'idle', 'idle connections held; RSS per connection at 5k and 15k');
// The third run is ours again under `node --optimize-for-size`: what the V8 heap policy adds; it
// only explains the figure, so its failure must not lose the figure.
type Run = ServerKind | 'ours-optimize-for-size';
const EXTRA: Run = 'ours-optimize-for-size';
const loop: KindLoop<Run, typeof EXTRA> = {
  pairs: LEVELS.at(-1)! + 200,
  kinds: [...SERVER_KINDS, EXTRA],
  env: ENV,
  serverOf: (run) => (run === EXTRA ? 'ours' : run),
  nodeArgsOf: (run) => (run === EXTRA ? ['--optimize-for-size'] : []),
  optional: {
    kinds: [EXTRA],
    failed: (run, error) =>
      figure.finding(`the ${run} run failed: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`),
  },
};
const results = await forEachKind(loop, async (run, server, system) => {
  const generators: LoadGenerator[] = [];
  try {
    // Warm-up: JIT, pools and heap sized by a first round, so the reference is a process that has served streams.
    const warm = loadGenerator({ targets: [server.url], pairs: system.pairs.slice(0, WARM_UP) });
    await warm.runUntilStreaming(30_000);
    await warm.stop();
    await sleep(2000);
    const rssBefore = await settledRss(server.pid);
    const isOurs = server.kind === 'ours';
    const heapBefore = isOurs ? await server.metric('nodejs_heap_size_used_bytes') : Number.NaN;
    log(`${run}: RSS after warm-up, no stream open: ${mb(rssBefore)}`);
    const levels: Level[] = [];
    let opened = 0;
    for (const level of LEVELS) {
      const started = performance.now();
      const generator = loadGenerator({ targets: [server.url], pairs: system.pairs.slice(opened, level) }, `${run} `);
      generators.push(generator);
      await generator.runUntilStreaming(180_000);
      const openSeconds = (performance.now() - started) / 1000;
      opened = level;
      const cpu = cpuMeter(server.pid);
      await sleep(SETTLE_MS);
      const rssBytes = await settledRss(server.pid);
      const live = generators.reduce((sum, g) => sum + g.snapshot().live, 0);
      const result: Level = {
        streams: level,
        live,
        openSeconds,
        rssBytes,
        perConnectionKiB: (rssBytes - rssBefore) / live / KIB,
        serverCpuCores: cpu.stop(),
        loadgenRssBytes: process.memoryUsage.rss(),
        ...(isOurs
          ? {
              heap: {
                used: await server.metric('nodejs_heap_size_used_bytes'),
                total: await server.metric('nodejs_heap_size_total_bytes'),
                external: await server.metric('nodejs_external_memory_bytes'),
              },
            }
          : {}),
      };
      levels.push(result);
      log(
        `${run}: ${live}/${level} streams (opened in ${openSeconds.toFixed(1)} s), RSS ${mb(rssBytes)} → ` +
          `${result.perConnectionKiB.toFixed(1)} KiB per connection, CPU ${result.serverCpuCores} cores; load generator RSS ${mb(result.loadgenRssBytes)}`,
      );
    }
    figure.details[run] = {
      rssBeforeBytes: rssBefore,
      heapUsedBeforeBytes: heapBefore,
      levels,
      rssAtEndBytes: server.rss(),
      ...(isOurs ? { lockLostTotal: await server.metric('stream_lock_lost_total') } : {}),
      generators: (await Promise.all(generators.map((g) => g.stop()))).map(loadSummary),
    };
    return { rssBefore, levels };
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
  }
});

const ours = results.ours.levels;
const base = results.baseline.levels;
const top = LEVELS.length - 1;
const atTop = figure.versus(ours[top]!, base[top]!);
const held = LEVELS[top]!.toLocaleString('en');
atTop.add(`idle connections held (of ${held} opened)`, 'connections', (level) => level.live, {
  goal: `≥ ${SMOKE ? LEVELS[top] : '15,000'}`,
  better: 'higher',
});
LEVELS.forEach((level, i) =>
  figure.add(
    `RSS per idle connection at ${level.toLocaleString('en')}`,
    'KiB',
    ours[i]!.perConnectionKiB,
    base[i]!.perConnectionKiB,
    { goal: '≤ 16' },
  ),
);
atTop.add(`CPU holding ${held} idle streams (1 event/s each, locks renewed)`, 'cores', (level) => level.serverCpuCores);
atTop.add(`load generator RSS holding ${held} streams`, 'MB', (level) => level.loadgenRssBytes / 1e6, {
  goal: '< 300',
});
const heapBefore = (figure.details.ours as { heapUsedBeforeBytes: number }).heapUsedBeforeBytes;
const small = results['ours-optimize-for-size']?.levels;
for (const [i, level] of ours.entries()) {
  if (level.perConnectionKiB > 16) {
    const heapPer = level.heap ? (level.heap.used - heapBefore) / level.live / KIB : Number.NaN;
    figure.finding(
      `ours at ${level.streams}: ${level.perConnectionKiB.toFixed(1)} KiB RSS per idle connection (RSS ${mb(results.ours.rssBefore)} → ${mb(level.rssBytes)}), ` +
        `of which V8 heap used ${heapPer.toFixed(1)} KiB (heap committed ${mb(level.heap?.total ?? Number.NaN)}); baseline ${base[i]!.perConnectionKiB.toFixed(1)} KiB; ` +
        (small
          ? `the same process under node --optimize-for-size (smaller V8 heap growth steps): ${small[i]!.perConnectionKiB.toFixed(1)} KiB`
          : ''),
    );
  }
}
figure.write();
