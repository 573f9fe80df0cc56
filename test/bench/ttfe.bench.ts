// `npm run bench -- ttfe` — figure d: time to first event (binding check and lock
// included) of new streams while 1,000 clients stream at 2 Mbit/s, and how many new streams per
// second one stream process admits with p99 ≤ 250 ms.
//
// New streams arrive at a steady rate (open loop) for a few seconds per step, each closing as soon
// as its first event (`hello`) arrives — so the background stays at 1,000 streams. The rate grows
// until p99 passes 1 s or more than 1 % of the new streams fail.
import { Figure, forEachKind, loadGenerator, log, scale, SERVER_KINDS, sleep } from '../load/bench-kit.js';
import type { LoadResult } from '../load/load-generator.js';

const { BACKGROUND, RATES, STEP_SECONDS, FIRST_STEP_SECONDS } = scale({
  // The first step gives the headline p99: 200 new streams, so one slow open is not the whole tail.
  full: {
    BACKGROUND: 1000,
    RATES: [10, 25, 50, 100, 200, 400, 800, 1200, 1600, 2400, 3200],
    STEP_SECONDS: 5,
    FIRST_STEP_SECONDS: 20,
  },
  smoke: { BACKGROUND: 10, RATES: [5, 10], STEP_SECONDS: 2, FIRST_STEP_SECONDS: 2 },
});
const TICKS_PER_SECOND = 10;

/** One rate of new streams: what the load generator counted of them, and the background meanwhile. */
interface Step extends Pick<LoadResult, 'ttfe'> {
  rate: number;
  opened: number;
  failed: number;
  achievedPerSecond: number;
  refused: LoadResult['totals']['refusedCodes'];
  errors: LoadResult['totals']['errors'];
  backgroundGaps: number;
  backgroundLive: number;
}

const figure = new Figure('d', 'ttfe', 'time to first event while 1,000 clients stream; new streams/s at p99 ≤ 250 ms');
// Probes close at their first event, so a pair is free again at once: steps take turns over one pool.
const results = await forEachKind(
  {
    pairs: BACKGROUND + Math.max(...RATES) * STEP_SECONDS,
    kinds: SERVER_KINDS,
    env: { STREAM_EVENTS_PER_SECOND: '4', STREAM_EVENT_BYTES: '65536' },
  },
  async (kind, server, system) => {
    const background = loadGenerator(
      { targets: [server.url], pairs: system.pairs.slice(0, BACKGROUND), ramp: { clients: 250, everySeconds: 1 } },
      `${kind} background `,
    );
    const steps: Step[] = [];
    try {
      await background.runUntilStreaming(60_000);
      await sleep(3000);
      const pool = system.pairs.slice(BACKGROUND);
      let offset = 0;
      for (const [index, rate] of RATES.entries()) {
        const stepSeconds = index === 0 ? FIRST_STEP_SECONDS : STEP_SECONDS;
        const streams = rate * stepSeconds;
        const pairs = Array.from({ length: streams }, (_, i) => pool[(offset + i) % pool.length]!);
        offset = (offset + streams) % pool.length;
        const before = background.snapshot();
        const perTick = rate / TICKS_PER_SECOND;
        const probe = loadGenerator(
          {
            targets: [server.url],
            pairs,
            streams,
            // Whole clients per tick: a fraction accumulates into the next tick's batch.
            ramp:
              perTick >= 1
                ? { clients: Math.round(perTick), everySeconds: 1 / TICKS_PER_SECOND }
                : { clients: 1, everySeconds: 1 / rate },
            holdSeconds: 0,
            connectConcurrency: 10_000,
          },
          `${kind} ${rate}/s `,
        );
        const started = performance.now();
        void probe.run();
        const deadline = started + (stepSeconds + 30) * 1000;
        while (probe.snapshot().settled < streams && performance.now() < deadline) await sleep(50);
        const result = await probe.stop();
        const seconds = (performance.now() - started) / 1000;
        const after = background.snapshot();
        const failed = streams - result.totals.firstEvents;
        const step: Step = {
          rate,
          opened: result.totals.firstEvents,
          failed,
          achievedPerSecond: result.totals.firstEvents / Math.max(seconds, stepSeconds),
          ttfe: result.ttfe,
          refused: result.totals.refusedCodes,
          errors: result.totals.errors,
          backgroundGaps: after.fast.since(before.fast).gaps,
          backgroundLive: after.live,
        };
        steps.push(step);
        log(
          `${kind}: ${rate} new streams/s for ${stepSeconds} s → ${step.opened}/${streams} opened, TTFE p50 ${step.ttfe.p50} ms, ` +
            `p90 ${step.ttfe.p90} ms, p99 ${step.ttfe.p99} ms; refused ${JSON.stringify(step.refused)} errors ${JSON.stringify(step.errors)}; ` +
            `background ${step.backgroundLive} live, gaps ${step.backgroundGaps}`,
        );
        await sleep(1000);
        if (!(step.ttfe.p99 <= 1000) || failed > streams * 0.01) break;
      }
      figure.details[kind] = { steps, background: background.snapshot() };
      return steps;
    } finally {
      await background.stop();
    }
  },
);

const first = (steps: Step[]) => steps[0];
const bestRate = (steps: Step[]) =>
  steps
    .filter((s) => s.ttfe.p99 <= 250 && s.failed <= s.opened * 0.01)
    .reduce((top, s) => Math.max(top, s.achievedPerSecond), 0);
const ours = results.ours;
const rows = figure.versus(ours, results.baseline);
rows.add(`time to first event p50 at ${RATES[0]} new/s`, 'ms', (steps) => first(steps)?.ttfe.p50);
rows.add(`time to first event p99 at ${RATES[0]} new/s`, 'ms', (steps) => first(steps)?.ttfe.p99, { goal: '≤ 50' });
rows.add('new streams/s with TTFE p99 ≤ 250 ms', 'streams/s', bestRate, { better: 'higher' });
rows.add('background gaps while new streams opened', 'events', (steps) =>
  steps.reduce((sum, step) => sum + step.backgroundGaps, 0),
);
const slow = ours.find((s) => s.ttfe.p99 > 50);
if (slow && slow === first(ours)) {
  figure.finding(`ours TTFE p99 ${slow.ttfe.p99} ms at ${slow.rate} new streams/s (p50 ${slow.ttfe.p50} ms)`);
}
figure.write();
