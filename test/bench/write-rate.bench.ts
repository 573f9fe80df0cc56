// `npm run bench -- write-rate` — figure c: small-event write rate of one stream process.
//
// Every stream asks for 1,000 events/s of 64 bytes (the most the config allows); the number of
// streams grows step by step, and at each step the events the clients receive per second are
// measured. The figure is the highest rate delivered while delivery latency p99 stays under 1 s
// (beyond that the process is saturated and only queues). Clients read everything (fast readers).
import {
  Figure,
  forEachKind,
  loadGenerator,
  loadWindow,
  log,
  scale,
  SERVER_KINDS,
  sleep,
  SMOKE,
  type LoadWindow,
} from '../load/bench-kit.js';

const { STEPS, SETTLE_MS, WINDOW_MS } = scale({
  full: { STEPS: [50, 100, 150, 200, 250, 300], SETTLE_MS: 2000, WINDOW_MS: 5000 },
  smoke: { STEPS: [5, 10], SETTLE_MS: 1000, WINDOW_MS: 2000 },
});
const EVENTS_PER_SECOND = 1000;
const MAX_P99_MS = 1000;

interface Step extends Pick<LoadWindow, 'live' | 'latencyP99Ms' | 'serverCpuCores' | 'loadgenCpuCores'> {
  streams: number;
  offeredPerSecond: number;
  eventsPerSecond: number;
  serverSentPerSecond: number | null;
  gaps: number;
  usable: boolean;
}

const figure = new Figure('c', 'write-rate', 'small-event write rate (64-byte events)');
const env = { STREAM_EVENTS_PER_SECOND: String(EVENTS_PER_SECOND), STREAM_EVENT_BYTES: '64' };
const results = await forEachKind({ pairs: STEPS.at(-1)!, kinds: SERVER_KINDS, env }, async (kind, server, system) => {
  const steps: Step[] = [];
  for (const streams of STEPS) {
    const generator = loadGenerator(
      { targets: [server.url], pairs: system.pairs.slice(0, streams), expectedEventsPerSecond: EVENTS_PER_SECOND },
      `${kind} `,
    );
    const live0 = await generator.runUntilStreaming(30_000);
    await sleep(SETTLE_MS);
    const sent0 = kind === 'ours' ? await server.metric('stream_events_sent_total') : Number.NaN;
    const window = await loadWindow(server.pid, [generator], WINDOW_MS);
    const sent1 = kind === 'ours' ? await server.metric('stream_events_sent_total') : Number.NaN;
    await generator.stop();
    const { seconds, latencyP99Ms } = window;
    const step: Step = {
      streams,
      live: window.live,
      offeredPerSecond: live0 * EVENTS_PER_SECOND,
      eventsPerSecond: window.fast.messages / seconds,
      serverSentPerSecond: Number.isFinite(sent1 - sent0) ? (sent1 - sent0) / seconds : null,
      gaps: window.fast.gaps,
      latencyP99Ms,
      serverCpuCores: window.serverCpuCores,
      loadgenCpuCores: window.loadgenCpuCores,
      usable: live0 === streams && latencyP99Ms !== null && latencyP99Ms <= MAX_P99_MS,
    };
    steps.push(step);
    log(
      `${kind}: ${step.live}/${streams} streams asking ${step.offeredPerSecond} events/s → received ${step.eventsPerSecond.toFixed(0)}/s` +
        `${step.serverSentPerSecond === null ? '' : ` (server counted ${step.serverSentPerSecond.toFixed(0)}/s written)`}, gaps ${step.gaps}, ` +
        `latency p99 ${latencyP99Ms ?? '–'} ms, CPU ${step.serverCpuCores} cores (load generator ${step.loadgenCpuCores.toFixed(2)})`,
    );
    await sleep(1000);
    if (!step.usable) break;
  }
  figure.details[kind] = { steps };
  return steps;
});

const best = (steps: Step[]) =>
  steps
    .filter((s) => s.usable)
    .reduce<Step | undefined>((top, s) => (!top || s.eventsPerSecond > top.eventsPerSecond ? s : top), undefined);
const ours = best(results.ours);
const base = best(results.baseline);
const rows = figure.versus(ours, base);
rows.add('small-event (64 B) write rate', 'events/s', (s) => s?.eventsPerSecond, {
  goal: SMOKE ? '> 0' : '≥ 80,000',
  better: 'higher',
  note: ours ? `${ours.streams} streams; stream CPU ${ours.serverCpuCores} cores` : undefined,
});
rows.add('CPU per event at that rate', 'µs', (s) =>
  s && s.eventsPerSecond > 0 ? (s.serverCpuCores / s.eventsPerSecond) * 1e6 : null,
);
if (ours && !SMOKE && ours.eventsPerSecond < 80_000) {
  figure.finding(
    `ours peaked at ${ours.eventsPerSecond.toFixed(0)} events/s with ${ours.streams} streams, stream CPU ${ours.serverCpuCores} cores, load generator ${ours.loadgenCpuCores.toFixed(2)} cores`,
  );
}
figure.write();
