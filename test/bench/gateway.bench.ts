// `npm run bench -- gateway` — what the nginx gateway itself holds for readers that stop reading.
// 100 clients at 2 Mbit/s through nginx, half of them stall for 30 s. Measured on nginx's side,
// with `ss -tmn`: the kernel memory of its sockets (the receive queues of its connections to the
// pod, the send queues of its connections to the clients) and its processes' RSS, with the
// tuning of scripts/lib/gateway.mjs and with the baseline a user writes first — the Ingress's
// `proxy_buffering off` alone (default buffer size, client send buffer autotuned).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { freePort, REPO_ROOT } from '@app/testing';
import { Figure, forEachKind, loadGenerator, log, rssOf, scale, SERVER_KINDS, sleep } from '../load/bench-kit.js';
import { tcpSockets } from '../support/socket-memory.js';

const { CLIENTS, WARM_UP_S, STALL_S } = scale({
  full: { CLIENTS: 100, WARM_UP_S: 10, STALL_S: 30 },
  smoke: { CLIENTS: 6, WARM_UP_S: 2, STALL_S: 8 },
});
const STALLED_PERCENT = 50;

/** The Ingress as it was: unbuffered, hour-long timeouts on /stream, nothing else bounded. */
const BASELINE_TUNING = {
  clientSndbuf: null,
  proxy: { proxy_buffering: 'off' },
  stream: { proxy_request_buffering: 'off', proxy_read_timeout: '3600s', proxy_send_timeout: '3600s' },
};

/** nginx's master and its workers. */
function nginxRss(masterPid: number): number {
  const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim().split(/\s+/);
  return [masterPid, ...children.filter(Boolean).map(Number)].reduce((sum, pid) => sum + rssOf(pid), 0);
}

interface Held {
  upstreamRecv: number;
  clientSend: number;
  rss: number;
}

function held(gatewayPort: number, podPort: number, masterPid: number): Held {
  return {
    upstreamRecv: tcpSockets(['dport', '=', `:${podPort}`]).reduce((sum, s) => sum + s.rmemAlloc, 0),
    clientSend: tcpSockets(['sport', '=', `:${gatewayPort}`]).reduce((sum, s) => sum + s.wmemQueued, 0),
    rss: nginxRss(masterPid),
  };
}

interface Outcome {
  perStalled: Held;
  peakUpstreamRcvbuf: number;
  clientSndbuf: number;
  fastGaps: number;
  fastRate: number;
  podDropped: number;
  stalled: number;
}

const gatewayModule = await import(pathToFileURL(join(REPO_ROOT, 'scripts/lib/gateway.mjs')).href);
const figure = new Figure('i', 'gateway', "nginx's own memory per stalled reader");
const env = { STREAM_EVENTS_PER_SECOND: '4', STREAM_EVENT_BYTES: '65536', STREAM_STALL_TIMEOUT_MS: '120000' };
// Each kind is a gateway tuning in front of our stream process.
const loop = { pairs: CLIENTS, kinds: SERVER_KINDS, env, serverOf: () => 'ours' as const };
const results = await forEachKind(loop, async (kind, server, system) => {
  const gatewayPort = await freePort();
  const gateway = await gatewayModule.startGateway({
    root: REPO_ROOT,
    name: `bench-${kind}`,
    port: gatewayPort,
    mainUrls: [system.main.url],
    streamUrls: [server.url],
    tuning: kind === 'ours' ? undefined : BASELINE_TUNING,
    removeOnClose: true,
  });
  const podPort = Number(new URL(server.url).port);
  const generator = loadGenerator(
    {
      targets: [gateway.url],
      pairs: system.pairs.slice(0, CLIENTS),
      mix: { fast: 100 - STALLED_PERCENT, slow: 0, stalled: STALLED_PERCENT },
      stallAfterSeconds: WARM_UP_S,
      stallForSeconds: STALL_S,
      expectedEventsPerSecond: 4,
    },
    `${kind} `,
  );
  try {
    const dropped0 = await server.metric('stream_events_dropped_total');
    await generator.runUntilStreaming(60_000);
    await sleep((WARM_UP_S - 2) * 1000);
    const before = held(gatewayPort, podPort, gateway.pid);
    // Streams start within a second of each other, so their stalls do too.
    const stallDeadline = performance.now() + 20_000;
    while (generator.stalledNow === 0 && performance.now() < stallDeadline) await sleep(100);
    await sleep(1500);
    const s0 = generator.snapshot();
    // Let every buffer on the way fill (at 256 KB/s a stream fills 4 MB in ≈ 16 s).
    await sleep((STALL_S - 5) * 1000);
    const during = held(gatewayPort, podPort, gateway.pid);
    const stalledNow = generator.stalledNow;
    if (stalledNow === 0) throw new Error(`${kind}: no reader is stalled at the measurement`);
    const s1 = generator.snapshot();
    const upstream = tcpSockets(['dport', '=', `:${podPort}`]);
    const clients = tcpSockets(['sport', '=', `:${gatewayPort}`]);
    const podDropped = (await server.metric('stream_events_dropped_total')) - dropped0;
    await generator.stop();
    const per = (key: keyof Held) => (during[key] - before[key]) / stalledNow;
    const fast = s1.fast.since(s0.fast);
    const outcome: Outcome = {
      perStalled: { upstreamRecv: per('upstreamRecv'), clientSend: per('clientSend'), rss: per('rss') },
      // nginx's connections that hold bytes (the stalled streams'): the benchmark's own idle
      // keep-alive connection to the pod has the kernel's default buffer and would hide the value.
      peakUpstreamRcvbuf: Math.max(...upstream.filter((s) => s.rmemAlloc > 0).map((s) => s.rcvbuf)),
      clientSndbuf: Math.max(...clients.map((s) => s.sndbuf)),
      fastGaps: fast.gaps,
      fastRate: fast.messages / (s0.fast.live * 4 * (STALL_S - 5)),
      podDropped,
      stalled: stalledNow,
    };
    figure.details[kind] = { before, during, ...outcome };
    const kib = (v: number) => `${(v / 1024).toFixed(0)} KiB`;
    log(
      `${kind}: per stalled reader nginx holds upstream ${kib(outcome.perStalled.upstreamRecv)} (rcvbuf up to ${kib(outcome.peakUpstreamRcvbuf)}), ` +
        `client send queue ${kib(outcome.perStalled.clientSend)} (sndbuf ${kib(outcome.clientSndbuf)}), RSS ${kib(outcome.perStalled.rss)}; ` +
        `fast readers ${(outcome.fastRate * 100).toFixed(1)} % of 4/s, ${outcome.fastGaps} gaps; the pod dropped ${podDropped}; ${stalledNow} stalled`,
    );
    return outcome;
  } finally {
    await generator.stop().catch(() => undefined);
    await gateway.close();
  }
});

const ours = results.ours;
const base = results.baseline;
const kib = (v: number) => v / 1024;
const rows = figure.versus(ours, base);
rows.add(
  "nginx's kernel socket memory per stalled reader",
  'KiB',
  (o) => kib(o.perStalled.upstreamRecv + o.perStalled.clientSend),
  {
    goal: '≤ 1024',
  },
);
rows.add('  of it: send queue to the client', 'KiB', (o) => kib(o.perStalled.clientSend));
rows.add('  of it: receive queue from the pod', 'KiB', (o) => kib(o.perStalled.upstreamRecv), {
  note: `receive buffer: ${kib(ours.peakUpstreamRcvbuf).toFixed(0)} KiB at most (ours: a fixed SO_RCVBUF, GATEWAY_TUNING.upstreamRcvbuf) / autotuned up to ${kib(base.peakUpstreamRcvbuf).toFixed(0)} KiB (baseline)`,
});
rows.add('nginx RSS per stalled reader', 'KiB', (o) => kib(o.perStalled.rss));
rows.add("fast readers' gaps meanwhile", 'events', (o) => o.fastGaps, { goal: '= 0' });
rows.add("fast readers' rate meanwhile", '% of 4/s', (o) => o.fastRate * 100, { goal: '≥ 99', better: 'higher' });
figure.write();
