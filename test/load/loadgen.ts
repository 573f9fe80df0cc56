// `npm run loadgen -- [options]`: opens N SSE streams over distinct bound (user, profile) pairs
// and reports what they receive. See `--help`, and docs/load-generator.md.
import { parseArgs } from 'node:util';
import {
  LoadGenerator,
  type LoadOptions,
  loopbackSources,
  MAX_DURATION_SECONDS,
  openFilesLimit,
  MAX_STREAMS,
  type Pair,
  READER_KINDS,
  type ReaderKind,
} from './load-generator.js';
import { createTestdata, readPairs } from './pairs.js';
import { progressLine, summaryLines, writeResult } from './report.js';

const HELP = `Usage: npm run loadgen -- [options]

Opens N Server-Sent-Event streams, one per distinct bound (user, profile) pair, over raw TCP
sockets, and prints a progress line per interval. Loopback targets only; stops by itself.

Where
  --target URL[,URL…]      gateway or stream instance(s), round robin      [http://127.0.0.1:8080]
  --main URL               main or the gateway: pairs from GET /main/profiles   [first target]
  --base URL               read pairs from base (GET /profiles) instead of main
  --create-testdata        first create enough pairs with POST /main/testdata (admin)
  --admin-token TOKEN      for --create-testdata and reading pairs from main [$ADMIN_TOKEN]
  --auth-secret SECRET     mint each stream's user token (HS256) with it   [$AUTH_JWT_SECRET]
  --no-auth                send no token (every stream is then refused with 401)
  --users-per-profile K    shape of the created test data                          [20]

How many and how fast
  -n, --streams N          streams to open, at most ${MAX_STREAMS}                 [100]
  --ramp C/T               add C clients every T seconds                      [all at once]
  -d, --duration S         whole run, seconds, at most ${MAX_DURATION_SECONDS}                      [30]
  --hold S                 close each stream S s after its first event (0: at once)   [keep]
  --concurrency C          handshakes in flight at most                           [200]
  --sources K              spread sockets over 127.0.0.2 … 127.0.0.(K+1) (0: kernel picks) [8]

Readers
  --mix fast=P,slow=P,stalled=P   percentages                             [fast=100]
  --slow-rate KBPS         read rate of slow readers, KB/s                          [32]
  --slow-rcvbuf BYTES      SO_RCVBUF of slow readers' sockets (a slow link's window) [kernel's]
  --stall-after S          stalled readers stop reading S s after their first event  [0]
  --stall-for S            …and resume S s later                          [never]
  --expect-eps R           events/s a stream should carry, for rate fractions       [4]

Output
  --interval S             progress interval, seconds                                [1]
  --out FILE               JSON result; the HTML chart is written beside it (.html)
                           [test-results/loadgen/loadgen-<time>.json]
  --quiet                  no progress lines
  -h, --help
`;

function fail(message: string): never {
  console.error(`loadgen: ${message}\n(see npm run loadgen -- --help)`);
  process.exit(2);
}

function number(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = value === 'never' || value === 'inf' ? Infinity : Number(value);
  if (Number.isNaN(parsed)) fail(`--${name} must be a number (got ${value})`);
  return parsed;
}

function parseMix(text: string): Record<ReaderKind, number> {
  const mix: Record<ReaderKind, number> = { fast: 0, slow: 0, stalled: 0 };
  for (const part of text.split(',')) {
    const [name, value] = part.split('=');
    if (!READER_KINDS.includes(name as ReaderKind) || value === undefined || Number.isNaN(Number(value))) {
      fail(`--mix expects fast=P,slow=P,stalled=P (got ${text})`);
    }
    mix[name as ReaderKind] = Number(value);
  }
  // Unnamed kinds take what is left, fast first.
  const named = new Set(text.split(',').map((part) => part.split('=')[0]));
  const left = 100 - Object.values(mix).reduce((a, b) => a + b, 0);
  if (left > 0 && !named.has('fast')) mix.fast = left;
  return mix;
}

/** parseArgs options of one type (`string`: `--name value`, `boolean`: a `--name` switch). */
function optionsOf<const T extends 'string' | 'boolean', const N extends string>(
  type: T,
  ...names: N[]
): Record<N, { type: T }> {
  return Object.fromEntries(names.map((name) => [name, { type }])) as Record<N, { type: T }>;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      ...optionsOf(
        'string',
        'target',
        'main',
        'base',
        'admin-token',
        'auth-secret',
        'users-per-profile',
        'ramp',
        'hold',
        'concurrency',
        'sources',
        'mix',
        'slow-rate',
        'slow-rcvbuf',
        'stall-after',
        'stall-for',
        'expect-eps',
        'interval',
        'out',
      ),
      ...optionsOf('boolean', 'create-testdata', 'no-auth', 'quiet'),
      streams: { type: 'string', short: 'n' },
      duration: { type: 'string', short: 'd' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const targets = (values.target ?? 'http://127.0.0.1:8080')
    .split(',')
    .map((t) => t.trim().replace(/\/+$/, ''))
    .filter(Boolean);
  const streams = number(values.streams, 'streams', 100);
  const holdSeconds = number(values.hold, 'hold', Infinity);
  let ramp = { clients: streams, everySeconds: 1 };
  if (values.ramp) {
    const match = /^(\d+)\/(\d+(?:\.\d+)?)$/.exec(values.ramp);
    if (!match) fail(`--ramp expects C/T, e.g. 100/1 (got ${values.ramp})`);
    ramp = { clients: Number(match[1]), everySeconds: Number(match[2]) };
  }
  const sources = number(values.sources, 'sources', 8);
  const options: Omit<LoadOptions, 'pairs'> = {
    targets,
    streams,
    ramp,
    durationSeconds: number(values.duration, 'duration', 30),
    intervalSeconds: number(values.interval, 'interval', 1),
    mix: parseMix(values.mix ?? 'fast=100'),
    slowKBps: number(values['slow-rate'], 'slow-rate', 32),
    ...(values['slow-rcvbuf'] ? { slowReceiveBufferBytes: number(values['slow-rcvbuf'], 'slow-rcvbuf', 0) } : {}),
    stallAfterSeconds: number(values['stall-after'], 'stall-after', 0),
    stallForSeconds: number(values['stall-for'], 'stall-for', Infinity),
    holdSeconds,
    sourceAddresses: sources > 0 && !targets.some((t) => t.includes('[::1]')) ? loopbackSources(sources) : [],
    connectConcurrency: number(values.concurrency, 'concurrency', 200),
    handshakeTimeoutSeconds: 15,
    expectedEventsPerSecond: number(values['expect-eps'], 'expect-eps', 4),
    onInterval: values.quiet ? undefined : (sample) => console.log(progressLine(sample)),
  };
  // Validate everything but the pairs before touching any server.
  new LoadGenerator({ ...options, pairs: [{ userId: 'u', profileId: 'p' }], streams: 1, holdSeconds: 0 });
  if (!(streams >= 1 && streams <= MAX_STREAMS)) fail(`--streams must be 1–${MAX_STREAMS}`);
  const softLimit = Number.parseInt(openFilesLimit(), 10);
  if (softLimit && !Number.isFinite(holdSeconds) && streams + 100 > softLimit) {
    console.warn(
      `loadgen: ${streams} streams need as many sockets but this process may open ${openFilesLimit()} files; ` +
        'raise it first (ulimit -n "$(ulimit -Hn)")',
    );
  }

  const authSecret = values['no-auth'] ? null : (values['auth-secret'] ?? process.env.AUTH_JWT_SECRET);
  if (authSecret === undefined) {
    fail('streams need a user token: pass --auth-secret (npm start prints it) or AUTH_JWT_SECRET, or --no-auth');
  }
  const adminToken = values['admin-token'] ?? process.env.ADMIN_TOKEN;
  const mainOrigin = (values.main ?? targets[0]!).replace(/\/+$/, '');
  if (values['create-testdata']) {
    const token = adminToken;
    if (!token) fail('--create-testdata needs --admin-token or ADMIN_TOKEN');
    const upp = number(values['users-per-profile'], 'users-per-profile', 20);
    console.log(`creating ${streams} pairs through ${mainOrigin}/main/testdata (${upp} users per profile)…`);
    const created = await createTestdata(mainOrigin, token, streams, upp);
    console.log(
      `  ${created.users} users, ${created.profiles} profiles in ${created.seconds.toFixed(1)} s (${created.calls} calls)`,
    );
  }
  const wanted = Number.isFinite(holdSeconds) ? MAX_STREAMS : streams;
  const pairs: Pair[] = values.base
    ? await readPairs(values.base.replace(/\/+$/, ''), '', wanted)
    : await readPairs(mainOrigin, '/main', wanted, adminToken);
  console.log(
    `${pairs.length} bound pairs from ${values.base ?? mainOrigin}; opening ${streams} streams on ${targets.join(', ')}`,
  );

  const generator = new LoadGenerator({ ...options, pairs, authSecret });
  const done = generator.run();
  const interrupt = () => void generator.stop();
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  const result = await done;
  process.off('SIGINT', interrupt);
  process.off('SIGTERM', interrupt);

  for (const line of summaryLines(result)) console.log(line);
  const stamp = result.startedAt.replace(/[:.]/g, '-');
  const files = writeResult(result, values.out ?? `test-results/loadgen/loadgen-${stamp}.json`);
  console.log(`result: ${files.json}\nchart:  ${files.html}`);
}

await main().catch((error: unknown) => {
  console.error(`loadgen: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
