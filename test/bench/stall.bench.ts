// `npm run bench -- stall` — figure f: 1,000 clients at 2 Mbit/s of which 10 % stop reading for
// 60 s, then read again. Measured on the stream process: RSS growth while they are stalled, the
// kernel's TCP memory of its sockets (`ss -tm` skmem, charged to the pod's cgroup but not in RSS)
// and of the whole host (`/proc/net/sockstat`, clients included), the memory each stalled reader
// costs, the rate fast readers keep, and that every dropped event is a `seq` gap a client sees.
// The baseline is the stream tier's behaviour before the kernel's share was capped ("today":
// no TCP_NOTSENT_LOWAT, drop by bytes only at 1 MiB pending), in the same run.
//
// Under this load a Node process's RSS creeps up by 10–20 % a minute whether or not anyone stalls:
// V8 promotes short-lived write-path objects into old space and runs no major GC for minutes
// (`--trace-gc` showed none in 70 s). So the run has three phases on the same connections: a
// warm-up, a control window with nobody stalled, then the stall window of the same length; RSS
// growth is reported for both windows (each against the RSS just before it).
//
// STREAM_STALL_TIMEOUT_MS is set to 120 s for this run so that ours keeps the stalled sockets for
// the whole 60 s (by default it closes a socket that has dropped everything for 30 s) and the
// drops can be matched with the gaps once the readers resume.
import {
  Figure,
  forEachKind,
  loadGenerator,
  loadSummary,
  log,
  mb,
  scale,
  serverSocketMemory,
  type ServerKind,
  type StreamServer,
  sleep,
} from '../load/bench-kit.js';
import type { LoadGenerator } from '../load/load-generator.js';
import { tcpMemoryBytes } from '../support/kernel-sockets.js';

const KINDS: readonly ServerKind[] = ['ours', 'today'];

/** The control window and the stall both last STALL_S seconds. */
const { CLIENTS, WARM_UP_S, STALL_S, CATCH_UP_S } = scale({
  full: { CLIENTS: 1000, WARM_UP_S: 15, STALL_S: 60, CATCH_UP_S: 10 },
  smoke: { CLIENTS: 20, WARM_UP_S: 1, STALL_S: 4, CATCH_UP_S: 3 },
});
const STALLED_PERCENT = 10;
const EVENTS_PER_SECOND = 4;

interface Window {
  rssBeforeBytes: number;
  rssMaxBytes: number;
  growth: number;
  /** Kernel memory of the server's sockets: just before the window, and its maximum in it. */
  kernelBeforeBytes: number;
  kernelMaxBytes: number;
  /** Host TCP memory (/proc/net/sockstat): just before, and its maximum in the window. */
  hostTcpBeforeBytes: number;
  hostTcpMaxBytes: number;
  seconds: number;
  fastRateFraction: number;
  fastGaps: number;
}

interface Outcome {
  control: Window;
  stall: Window;
  gaps: number;
  serverDropped: number | null;
  stalledClosedByServer: number;
  stalledStreams: number;
  closedByServer: Record<string, number>;
}

/** RSS of `pid` every 500 ms, and the kernel memory of its sockets every 2 s, until stopped. */
class RssTimeline {
  private readonly samples: [number, number][] = [];
  private readonly kernel: [number, number, number][] = [];
  private readonly timers: NodeJS.Timeout[];

  constructor(private readonly server: StreamServer) {
    this.sample();
    this.sampleKernel();
    this.timers = [setInterval(() => this.sample(), 500), setInterval(() => this.sampleKernel(), 2000)];
  }

  max(from: number, to: number): number {
    return Math.max(...this.samples.filter(([t]) => t >= from && t < to).map(([, rss]) => rss));
  }

  /** Largest [server sockets, host TCP] kernel memory sampled in [from, to). */
  kernelMax(from: number, to: number): [number, number] {
    const inside = this.kernel.filter(([t]) => t >= from && t < to);
    return [Math.max(...inside.map(([, k]) => k)), Math.max(...inside.map(([, , h]) => h))];
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
  }

  private sample(): void {
    this.samples.push([performance.now(), this.server.rss()]);
  }

  private sampleKernel(): void {
    this.kernel.push([performance.now(), serverSocketMemory(this.server.port).bytes, tcpMemoryBytes()]);
  }
}

async function until(time: number, condition: () => boolean = () => true): Promise<void> {
  while (performance.now() < time && condition()) await sleep(100);
}

function window(
  rss: RssTimeline,
  [from, to]: [number, number],
  [before, after]: [ReturnType<LoadGenerator['snapshot']>, ReturnType<LoadGenerator['snapshot']>],
  rateSeconds: number,
): Window {
  const rssBeforeBytes = rss.max(from - 3000, from);
  const rssMaxBytes = rss.max(from, to);
  const [kernelBeforeBytes, hostTcpBeforeBytes] = rss.kernelMax(from - 4500, from);
  const [kernelMaxBytes, hostTcpMaxBytes] = rss.kernelMax(from, to);
  const fast = after.fast.since(before.fast);
  return {
    rssBeforeBytes,
    rssMaxBytes,
    growth: (rssMaxBytes - rssBeforeBytes) / rssBeforeBytes,
    kernelBeforeBytes,
    kernelMaxBytes,
    hostTcpBeforeBytes,
    hostTcpMaxBytes,
    seconds: (to - from) / 1000,
    fastRateFraction: fast.messages / (before.fast.live * EVENTS_PER_SECOND * rateSeconds),
    fastGaps: fast.gaps,
  };
}

const ENV = {
  STREAM_EVENTS_PER_SECOND: String(EVENTS_PER_SECOND),
  STREAM_EVENT_BYTES: '65536',
  STREAM_STALL_TIMEOUT_MS: '120000',
};
const figure = new Figure('f', 'stall', '10 % of readers stalled for 60 s');
const results = await forEachKind({ pairs: CLIENTS, kinds: KINDS, env: ENV }, async (kind, server, system) => {
  const stalledCount = (CLIENTS * STALLED_PERCENT) / 100;
  // Stalls start once the warm-up and the control window are over.
  const stallAfter = WARM_UP_S + STALL_S + 3;
  const generator = loadGenerator(
    {
      targets: [server.url],
      pairs: system.pairs.slice(0, CLIENTS),
      ramp: { clients: 250, everySeconds: 1 },
      mix: { fast: 100 - STALLED_PERCENT, slow: 0, stalled: STALLED_PERCENT },
      stallAfterSeconds: stallAfter,
      stallForSeconds: STALL_S,
      expectedEventsPerSecond: EVENTS_PER_SECOND,
    },
    `${kind} `,
  );
  const rss = new RssTimeline(server);
  try {
    const dropped0 = await server.metric('stream_events_dropped_total');
    const started = performance.now();
    await generator.runUntilStreaming(60_000);
    // Control window: from the end of the warm-up until the first stall (its first stream's first
    // event came ≈ 0.1 s after the start); stall window: from then until the first reader resumes.
    const controlFrom = performance.now() + WARM_UP_S * 1000;
    const stallFrom = started + stallAfter * 1000;
    const stallTo = stallFrom + STALL_S * 1000;
    await until(controlFrom);
    const c0 = generator.snapshot();
    await until(stallFrom);
    const c1 = generator.snapshot();
    const control = window(rss, [controlFrom, stallFrom], [c0, c1], (stallFrom - controlFrom) / 1000);
    // The fast readers' rate counts only while every stalled reader is stalled.
    await until(stallTo, () => generator.stalledNow < stalledCount);
    const allStalledAt = performance.now();
    const s0 = generator.snapshot();
    await until(stallTo - 1000);
    const s1 = generator.snapshot();
    const stall = window(rss, [stallFrom, stallTo], [s0, s1], (performance.now() - allStalledAt) / 1000);
    // Resume, catch up, then compare the drops with the gaps.
    await until(performance.now() + 15_000, () => generator.stalledNow > 0);
    await sleep(CATCH_UP_S * 1000);
    const dropped1 = await server.metric('stream_events_dropped_total');
    const end = generator.snapshot();
    const result = await generator.stop();
    const outcome: Outcome = {
      control,
      stall,
      gaps: result.totals.gaps,
      serverDropped: Number.isFinite(dropped1 - dropped0) ? dropped1 - dropped0 : null,
      stalledClosedByServer: end.stalled.streaming - end.stalled.live,
      stalledStreams: end.stalled.streaming,
      closedByServer: result.totals.closedByServer,
    };
    figure.details[kind] = { ...outcome, load: loadSummary(result) };
    const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
    log(
      `${kind}: no stall ${control.seconds.toFixed(0)} s: RSS ${mb(control.rssBeforeBytes)} → max ${mb(control.rssMaxBytes)} (${pct(control.growth)}), ` +
        `fast ${pct(control.fastRateFraction)} of 4/s; stalled ${stall.seconds.toFixed(0)} s: RSS ${mb(stall.rssBeforeBytes)} → max ${mb(stall.rssMaxBytes)} ` +
        `(${pct(stall.growth)}), socket kernel memory ${mb(stall.kernelBeforeBytes)} → max ${mb(stall.kernelMaxBytes)}, host TCP ${mb(stall.hostTcpBeforeBytes)} → max ${mb(stall.hostTcpMaxBytes)}, ` +
        `fast ${pct(stall.fastRateFraction)} of 4/s (gaps ${stall.fastGaps}); server dropped ${outcome.serverDropped ?? '–'}, ` +
        `clients saw ${outcome.gaps} gaps; ended by the server ${JSON.stringify(outcome.closedByServer)}`,
    );
    return outcome;
  } finally {
    rss.stop();
    await generator.stop().catch(() => undefined);
  }
});

const ours = results.ours;
const base = results.today;
const pct = (v: number) => `${(v * 100).toFixed(1)} %`;
const stalledCount = (CLIENTS * STALLED_PERCENT) / 100;
const KIB = 1024;
/**
 * What one stalled reader costs the pod: growth of its sockets' kernel memory, plus the RSS growth
 * beyond what the same process grew in the no-stall control window of the same length (RSS creeps
 * 10–40 % a minute under this load whether or not anyone stalls), per stalled reader.
 */
const perStalled = (o: Outcome) => ({
  kernel: (o.stall.kernelMaxBytes - o.stall.kernelBeforeBytes) / stalledCount,
  rss:
    Math.max(0, o.stall.rssMaxBytes - o.stall.rssBeforeBytes - (o.control.rssMaxBytes - o.control.rssBeforeBytes)) /
    stalledCount,
});
const oursCost = perStalled(ours);
const baseCost = perStalled(base);
const rows = figure.versus(ours, base);
figure.add(
  'memory per stalled reader, kernel included',
  'KiB',
  (oursCost.kernel + oursCost.rss) / KIB,
  (baseCost.kernel + baseCost.rss) / KIB,
  {
    goal: '≤ 512',
    note: `kernel ${(oursCost.kernel / KIB).toFixed(0)} + RSS ${(oursCost.rss / KIB).toFixed(0)} KiB; today ${(baseCost.kernel / KIB).toFixed(0)} + ${(baseCost.rss / KIB).toFixed(0)} KiB; RSS: growth beyond the no-stall control`,
  },
);
rows.add('kernel TCP memory of the pod’s sockets while 10 % are stalled', 'MB', (o) => o.stall.kernelMaxBytes / 1e6, {
  note: `before the stall: ours ${mb(ours.stall.kernelBeforeBytes)}, today ${mb(base.stall.kernelBeforeBytes)}`,
});
rows.add(
  'host TCP memory (/proc/net/sockstat, clients included) while stalled',
  'MB',
  (o) => o.stall.hostTcpMaxBytes / 1e6,
  {
    note: `before the stall: ours ${mb(ours.stall.hostTcpBeforeBytes)}, today ${mb(base.stall.hostTcpBeforeBytes)}`,
  },
);
rows.add('RSS growth while 10 % are stalled (60 s)', '%', (o) => o.stall.growth * 100, {
  goal: '≤ 10',
  note: `the 60 s before, nobody stalled: ours ${pct(ours.control.growth)}, today ${pct(base.control.growth)}`,
});
rows.add('fast readers’ rate while the others are stalled', '% of 4/s', (o) => o.stall.fastRateFraction * 100, {
  goal: '≥ 99',
  better: 'higher',
});
rows.add(
  'events dropped by the server − seq gaps seen by clients',
  'events',
  (o) => (o.serverDropped === null ? null : o.serverDropped - o.gaps),
  {
    goal: '= 0',
    note: `ours dropped ${ours.serverDropped} and clients saw ${ours.gaps} gaps; today ${base.serverDropped} and ${base.gaps}`,
  },
);
rows.add('stalled streams the server closed', 'streams', (o) => o.stalledClosedByServer, {
  note: `of ${ours.stalledStreams} stalled`,
});
if (ours.stall.growth > 0.1) {
  figure.finding(
    `ours RSS grew ${pct(ours.stall.growth)} in the stall window (${mb(ours.stall.rssBeforeBytes)} → ${mb(ours.stall.rssMaxBytes)}) and ` +
      `${pct(ours.control.growth)} in the same time with nobody stalled (${mb(ours.control.rssBeforeBytes)} → ${mb(ours.control.rssMaxBytes)})`,
  );
}
if (oursCost.kernel + oursCost.rss > 512 * KIB) {
  figure.finding(
    `a stalled reader cost ${((oursCost.kernel + oursCost.rss) / KIB).toFixed(0)} KiB (kernel ${(oursCost.kernel / KIB).toFixed(0)}, RSS ${(oursCost.rss / KIB).toFixed(0)})`,
  );
}
if (ours.stall.fastRateFraction < 0.99)
  figure.finding(`ours fast readers got ${pct(ours.stall.fastRateFraction)} of 4 events/s`);
figure.write();
