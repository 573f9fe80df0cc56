// `npm run bench -- throughput` — figure b: how many clients one stream process serves at the full
// 2 Mbit/s (4 events/s × 64 KiB) with 0 drops for fast readers, and the CPU it uses — ours, the
// stream tier's behaviour before drop-by-age ("today": no TCP_NOTSENT_LOWAT, byte-only drop) and
// the plain Nest `@Sse()` baseline, in the same run.
//
// Clients are added in steps; at each step, after the new ones streamed for a few seconds, a
// window is measured: the step passes when no fast reader saw a `seq` gap in the window and the
// readers got ≥ 99 % of 4 events/s. The figure is the largest passing step.
import {
  Figure,
  forEachKind,
  loadGenerator,
  loadWindow,
  type LoadWindow,
  log,
  scale,
  type ServerKind,
  sleep,
  SMOKE,
} from '../load/bench-kit.js';
import type { LoadGenerator } from '../load/load-generator.js';

const { STEPS, SETTLE_MS, WINDOW_MS } = scale({
  full: { STEPS: [250, 500, 1000, 2000, 3000, 4000, 5000, 6000], SETTLE_MS: 3000, WINDOW_MS: 8000 },
  smoke: { STEPS: [10, 20], SETTLE_MS: 1000, WINDOW_MS: 2000 },
});
const EVENTS_PER_SECOND = 4;

interface Step extends Pick<LoadWindow, 'live' | 'serverCpuCores' | 'loadgenCpuCores' | 'latencyP99Ms'> {
  clients: number;
  eventsPerSecond: number;
  mbPerSecond: number;
  /** Received ÷ (live × 4/s × window). */
  rateFraction: number;
  gaps: number;
  passed: boolean;
}

const KINDS: readonly ServerKind[] = ['ours', 'today', 'baseline'];
const figure = new Figure('b', 'throughput', 'clients served at 2 Mbit/s with 0 drops for fast readers; CPU used');
const env = { STREAM_EVENTS_PER_SECOND: String(EVENTS_PER_SECOND), STREAM_EVENT_BYTES: '65536' };
const results = await forEachKind({ pairs: STEPS.at(-1)!, kinds: KINDS, env }, async (kind, server, system) => {
  const generators: LoadGenerator[] = [];
  const steps: Step[] = [];
  try {
    let opened = 0;
    for (const clients of STEPS) {
      const generator = loadGenerator(
        {
          targets: [server.url],
          pairs: system.pairs.slice(opened, clients),
          ramp: { clients: 250, everySeconds: 1 },
          expectedEventsPerSecond: EVENTS_PER_SECOND,
        },
        `${kind} `,
      );
      generators.push(generator);
      await generator.runUntilStreaming(120_000);
      await sleep(SETTLE_MS);
      opened = clients;
      const { seconds, serverCpuCores, loadgenCpuCores, fast, liveAtStart, live, latencyP99Ms } = await loadWindow(
        server.pid,
        generators,
        WINDOW_MS,
      );
      const { gaps } = fast;
      const rateFraction = fast.messages / (liveAtStart * EVENTS_PER_SECOND * seconds);
      const step: Step = {
        clients,
        live,
        eventsPerSecond: fast.messages / seconds,
        mbPerSecond: fast.bytes / seconds / 1e6,
        rateFraction,
        gaps,
        passed: gaps === 0 && live === clients && rateFraction >= 0.99,
        serverCpuCores,
        loadgenCpuCores,
        latencyP99Ms,
      };
      steps.push(step);
      log(
        `${kind}: ${live}/${clients} clients, ${step.eventsPerSecond.toFixed(0)} events/s, ${step.mbPerSecond.toFixed(0)} MB/s, ` +
          `${(rateFraction * 100).toFixed(1)} % of 4/s, gaps ${gaps}, CPU ${serverCpuCores} cores (load generator ${step.loadgenCpuCores.toFixed(2)}), ` +
          `latency p99 ${step.latencyP99Ms ?? '–'} ms → ${step.passed ? 'pass' : 'FAIL'}`,
      );
      if (!step.passed) break;
    }
    figure.details[kind] = { steps };
    return steps;
  } finally {
    await Promise.all(generators.map((g) => g.stop()));
  }
});

const best = (steps: Step[]) => steps.filter((s) => s.passed).at(-1);
const ours = best(results.ours);
const today = best(results.today);
const nest = best(results.baseline);
const top = STEPS.at(-1)!;
figure.add(
  'clients at 2 Mbit/s, 0 drops for fast readers (baseline: today’s behaviour)',
  'clients',
  ours?.clients ?? 0,
  today?.clients ?? 0,
  {
    goal: `≥ ${SMOKE ? STEPS[0] : '2,000'}`,
    better: 'higher',
    note: ours?.clients === top ? `the highest step tried (${top}) passed` : undefined,
  },
);
figure.add('… against the plain Nest @Sse() baseline', 'clients', ours?.clients ?? 0, nest?.clients ?? 0, {
  better: 'higher',
});
figure.add('CPU at that many clients (baseline: today)', 'cores', ours?.serverCpuCores, today?.serverCpuCores);
const at = (kind: ServerKind, clients: number) => results[kind].find((s) => s.clients === clients);
// The same load on all, for a like-for-like CPU figure: the largest step ours and today both passed.
const common = Math.min(ours?.clients ?? 0, today?.clients ?? 0);
if (common > 0) {
  figure
    .versus(at('ours', common), at('today', common))
    .add(`CPU at ${common.toLocaleString('en')} clients (ours, today)`, 'cores', (s) => s?.serverCpuCores);
}
const failed = results.ours.find((s) => !s.passed);
if (failed) {
  figure.finding(
    `ours failed at ${failed.clients} clients: ${failed.live} live, gaps ${failed.gaps}, ${(failed.rateFraction * 100).toFixed(1)} % of the rate, ` +
      `stream CPU ${failed.serverCpuCores} cores, load generator CPU ${failed.loadgenCpuCores.toFixed(2)} cores, ${failed.mbPerSecond.toFixed(0)} MB/s`,
  );
}
figure.write();
