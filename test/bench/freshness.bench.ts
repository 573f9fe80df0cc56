// `npm run bench -- freshness` — figure j: the age (arrival − event timestamp) of the events a
// reader at half the stream rate receives, p50 and p99, straight from one stream process and
// through the nginx gateway, ours against the stream tier's behaviour before drop-by-age
// ("today": no TCP_NOTSENT_LOWAT, byte-only drop at 1 MiB pending), in the same run.
//
// 20 half-rate readers (each reads 131 KB/s of the ≈ 263 KB/s stream through a 16 KiB receive
// buffer: a slow link, so the backlog forms on the sending side as it would on a real one) beside
// 80 fast readers, for 60 s; the first 10 s (ramp and settling) are left out of the ages.
import { Figure, forEachKind, loadGenerator, log, scale, type ServerKind, sleep } from '../load/bench-kit.js';
import { Histogram } from '../load/histogram.js';
import type { LoadGenerator } from '../load/load-generator.js';
import { percentile } from '../support/latency.js';
import { startGateway } from '../support/system.js';

const KINDS: readonly ServerKind[] = ['ours', 'today'];
const { SLOW, FAST, SECONDS, SETTLE_SECONDS } = scale({
  full: { SLOW: 20, FAST: 80, SECONDS: 60, SETTLE_SECONDS: 10 },
  smoke: { SLOW: 2, FAST: 8, SECONDS: 6, SETTLE_SECONDS: 2 },
});
const HALF_RATE_KBPS = 131;

interface Run {
  kind: ServerKind;
  path: 'straight' | 'nginx';
  ageP50Ms: number;
  ageP99Ms: number;
  /** p99 of the last third of the run: the age must not grow. */
  lateAgeP99Ms: number;
  slowEventsPerSecond: number;
  slowGaps: number;
  fastGaps: number;
}

async function measure(kind: ServerKind, path: Run['path'], target: string, generator: LoadGenerator): Promise<Run> {
  await generator.runUntilStreaming(60_000);
  await sleep(SETTLE_SECONDS * 1000);
  const before = generator.snapshot();
  const ages = new Histogram();
  const late: number[] = [];
  const started = performance.now();
  // The generator's per-kind histogram covers the whole run (ramp included); take the ages after settling.
  generator.drainSlowAges();
  const seconds = SECONDS - SETTLE_SECONDS;
  for (let second = 0; second < seconds; second++) {
    await sleep(1000);
    for (const age of generator.drainSlowAges()) {
      ages.record(age);
      if (second >= (seconds * 2) / 3) late.push(age);
    }
  }
  const after = generator.snapshot();
  await generator.stop();
  const slow = after.slow.since(before.slow);
  const summary = ages.summary();
  const run: Run = {
    kind,
    path,
    ageP50Ms: summary.p50,
    ageP99Ms: summary.p99,
    lateAgeP99Ms: percentile(late, 99),
    slowEventsPerSecond: slow.messages / SLOW / ((performance.now() - started) / 1000),
    slowGaps: slow.gaps,
    fastGaps: after.fast.since(before.fast).gaps,
  };
  log(
    `${kind} ${path} (${target}): half-rate age p50 ${run.ageP50Ms} ms, p99 ${run.ageP99Ms} ms (last third ${run.lateAgeP99Ms} ms), ` +
      `${run.slowEventsPerSecond.toFixed(2)} events/s each, ${run.slowGaps} gaps; fast readers ${run.fastGaps} gaps`,
  );
  return run;
}

const figure = new Figure('j', 'freshness', 'age of the events a reader at half the stream rate receives');
let used = 0;
const env = { STREAM_EVENTS_PER_SECOND: '4', STREAM_EVENT_BYTES: '65536' };
const pairsNeeded = KINDS.length * 2 * (SLOW + FAST);
const results = await forEachKind({ pairs: pairsNeeded, kinds: KINDS, env }, async (kind, server, system) => {
  const own: Run[] = [];
  const gateway = await startGateway(system.main.url, [server.url]);
  try {
    for (const [path, target] of [
      ['straight', server.url],
      ['nginx', gateway.url],
    ] as const) {
      const pairs = system.pairs.slice(used, (used += SLOW + FAST));
      const generator = loadGenerator(
        {
          targets: [target],
          pairs,
          ramp: { clients: SLOW + FAST, everySeconds: 1 },
          mix: { fast: (FAST / (SLOW + FAST)) * 100, slow: (SLOW / (SLOW + FAST)) * 100, stalled: 0 },
          slowKBps: HALF_RATE_KBPS,
          slowReceiveBufferBytes: 16 * 1024,
          keepSlowAges: true,
          expectedEventsPerSecond: 4,
        },
        `${kind} ${path} `,
      );
      own.push(await measure(kind, path, target, generator));
    }
    return own;
  } finally {
    await gateway.close();
  }
});
const runs = KINDS.flatMap((kind) => results[kind]);

const find = (kind: ServerKind, path: Run['path']) => runs.find((r) => r.kind === kind && r.path === path)!;
for (const path of ['straight', 'nginx'] as const) {
  const ours = find('ours', path);
  const today = find('today', path);
  const where = path === 'straight' ? 'straight from the pod' : 'through nginx';
  const rows = figure.versus(ours, today);
  rows.add(`half-rate reader: age p50, ${where}`, 'ms', (run) => run.ageP50Ms);
  rows.add(`half-rate reader: age p99, ${where}`, 'ms', (run) => run.ageP99Ms, {
    goal: '≤ 2,000',
    note: `last third of the run: ours ${ours.lateAgeP99Ms} ms, today ${today.lateAgeP99Ms} ms; ours ${ours.slowEventsPerSecond.toFixed(2)} events/s each`,
  });
  rows.add(`fast readers beside them: seq gaps, ${where}`, 'events', (run) => run.fastGaps, { goal: '= 0' });
  if (ours.ageP99Ms > 2000) {
    figure.finding(
      `${where}, the half-rate readers' age p99 was ${ours.ageP99Ms} ms (p50 ${ours.ageP50Ms} ms, last third ${ours.lateAgeP99Ms} ms)`,
    );
  }
}
figure.details.runs = runs;
figure.write();
