import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before } from 'node:test';
import type { Redis } from 'ioredis';
import { mapWithConcurrency } from '@app/async';
import { closeRedis, connectRedis, createRedisClient, pairKeys } from '@app/lock';
import {
  type AppProcess,
  eventually,
  RedisServer,
  request,
  startApp,
  TcpProxy,
  testInfra,
  uniqueKeyspace,
} from '@app/testing';
import { SseClient, type SseClientOptions } from './sse-client.js';

/** A (user, profile) pair bound in base. */
export interface Pair {
  readonly userId: string;
  readonly profileId: string;
}

/** Short leases so fault cases finish in seconds: renewal every 500 ms, lease 2 s. */
export const FAST_LOCK_TTL_MS = 2000;
export const FAST_LOCK_RENEW_MS = 500;

/**
 * A stream for cases that measure neither throughput nor production timing: short leases
 * (above) and small, quick events (20/s × 256 B). {@link StreamStack} starts its streams so
 * unless told otherwise.
 */
export const QUICK_STREAM_ENV = {
  LOCK_TTL_MS: String(FAST_LOCK_TTL_MS),
  LOCK_RENEW_MS: String(FAST_LOCK_RENEW_MS),
  STREAM_EVENTS_PER_SECOND: '20',
  STREAM_EVENT_BYTES: '256',
} as const;

export const streamPath = ({ userId, profileId }: Pair): string => `/stream/${userId}/${profileId}`;

/**
 * A test file's own world: base on its own keyspace, a private redis-server for the stream
 * instances (so `KEYS kubescaler:*` sees only this file's keys and stopping it hurts nobody else)
 * and a client to inspect it.
 */
export class StreamStack {
  readonly streams: AppProcess[] = [];
  private readonly extraRedis: RedisServer[] = [];
  private readonly proxies: TcpProxy[] = [];

  private constructor(
    readonly base: AppProcess,
    readonly redis: RedisServer,
    readonly inspect: Redis,
  ) {}

  /** Starts base (fresh keyspace named after `label`) and a private Redis. */
  static async start(label: string): Promise<StreamStack> {
    testInfra();
    const [base, redis] = await Promise.allSettled([
      startApp('base', { CASSANDRA_KEYSPACE: uniqueKeyspace(label) }),
      RedisServer.start(),
    ]);
    if (base.status === 'rejected' || redis.status === 'rejected') {
      if (base.status === 'fulfilled') await base.value.stop();
      if (redis.status === 'fulfilled') await redis.value.dispose();
      throw base.status === 'rejected' ? base.reason : (redis as PromiseRejectedResult).reason;
    }
    const inspect = createRedisClient(redis.value.url, { commandTimeoutMs: 1000, name: `test-${label}` });
    await connectRedis(inspect);
    return new StreamStack(base.value, redis.value, inspect);
  }

  /** Another private redis-server (e.g. a Redlock member); disposed with the stack. */
  async extraRedisServer(): Promise<RedisServer> {
    const server = await RedisServer.start();
    this.extraRedis.push(server);
    return server;
  }

  /** `count` private redis-servers to serve as Redlock members (`REDIS_LOCK_URLS`); disposed with the stack. */
  lockServers(count: number): Promise<RedisServer[]> {
    return Promise.all(Array.from({ length: count }, () => this.extraRedisServer()));
  }

  /** A TCP proxy in front of this stack's base or Redis, for a test to break; stopped with the stack. */
  async proxyTo(target: 'base' | 'redis'): Promise<TcpProxy> {
    const proxy = await new TcpProxy('127.0.0.1', this[target].port).start();
    this.proxies.push(proxy);
    return proxy;
  }

  /** A stream instance against this stack's base and Redis, with {@link QUICK_STREAM_ENV}; `env` overrides anything. */
  async startStream(env: Record<string, string> = {}): Promise<AppProcess> {
    const stream = await startApp('stream', {
      ...QUICK_STREAM_ENV,
      BASE_URL: this.base.url,
      REDIS_URL: this.redis.url,
      POD_NAME: `stream-${this.streams.length + 1}`,
      ...env,
    });
    this.streams.push(stream);
    return stream;
  }

  /** `count` fresh users, each with a fresh profile of its own: bound to it, or none bound when `bound` is false. */
  createPairs(count: number, { bound = true } = {}): Promise<Pair[]> {
    return createPairs(this.base.url, count, { bound });
  }

  /** Every key of this stack's Redis under `kubescaler:<kind>:`. */
  async keys(kind: 'lock' | 'launched' | 'fence'): Promise<string[]> {
    return this.inspect.keys(`kubescaler:${kind}:*`);
  }

  /** The launched record of `pair` as stored, or null. */
  async launchedRecord(pair: Pair): Promise<{ pod: string; since: string; fencingToken: number } | null> {
    const raw = await this.inspect.get(pairKeys(pair.userId, pair.profileId).launched);
    return raw === null ? null : JSON.parse(raw);
  }

  /** Stops every process and server it started. Safe after partial start-up. */
  async stop(): Promise<void> {
    await Promise.all(this.streams.map((stream) => stream.stop('SIGKILL')));
    await closeRedis(this.inspect);
    await Promise.all([
      this.base.stop(),
      this.redis.dispose(),
      ...this.extraRedis.map((server) => server.dispose()),
      ...this.proxies.map((proxy) => proxy.stop()),
    ]);
  }
}

/** What a stream suite starts before its tests: see {@link streamSuite}. */
export interface StreamSuiteOptions<Pods extends readonly string[] = readonly string[]> {
  /** Environment of every stream instance, over the stack's own (base, Redis, POD_NAME, {@link QUICK_STREAM_ENV}). */
  readonly env?: Readonly<Record<string, string>>;
  /** POD_NAME of each stream instance to start; one instance named by the stack when absent. */
  readonly pods?: Pods;
  /** Pairs to create, each user bound to its own profile. */
  readonly pairs?: number;
  /** Pairs to create whose profile has no user (the binding check answers "not bound"). */
  readonly unboundPairs?: number;
  /** Route the streams' connections to base or to Redis through a proxy the tests may break. */
  readonly proxy?: 'base' | 'redis';
  /** Private Redlock members the streams lock on (`REDIS_LOCK_URLS`) instead of the stack's Redis. */
  readonly lockServers?: number;
}

/** What a stream suite's tests read; reading it before the set-up has finished fails. */
export interface StreamSuite<Pods extends readonly string[] = readonly [string]> {
  readonly stack: StreamStack;
  /** The first (usually the only) stream instance. */
  readonly stream: AppProcess;
  /** Every instance, in the order of `pods`. */
  readonly streams: { readonly [K in keyof Pods]: AppProcess };
  readonly pairs: readonly Pair[];
  readonly unboundPairs: readonly Pair[];
  /** The proxy `options.proxy` asked for. */
  readonly proxy: TcpProxy;
  readonly lockServers: readonly RedisServer[];
}

/** The variable that names the proxied service, and its URL scheme. */
const PROXIED_URL = { base: ['BASE_URL', 'http'], redis: ['REDIS_URL', 'redis'] } as const;

/**
 * Registers the `before` and `after` hooks of a suite that runs against one {@link StreamStack}
 * (its keyspace named after `label`): the stack, the stream instances, the pairs and whatever
 * `options` asks for. A failed set-up fails the suite; the `after` hook stops everything that
 * did start, even then.
 */
export function streamSuite<const Pods extends readonly string[] = readonly [string]>(
  label: string,
  options: StreamSuiteOptions<Pods> = {},
): StreamSuite<Pods> {
  type Ready = Omit<StreamSuite<Pods>, 'stack' | 'stream' | 'proxy'> & { readonly proxy?: TcpProxy };
  let stack: StreamStack | undefined;
  let ready: Ready | undefined;
  const get = <K extends keyof Ready>(key: K): Ready[K] => {
    assert.ok(ready, `${label}: read ${key} before the suite's set-up finished (or after it failed)`);
    return ready[key];
  };

  before(async () => {
    const started = (stack = await StreamStack.start(label));
    const env: Record<string, string> = { ...options.env };
    let proxy: TcpProxy | undefined;
    if (options.proxy) {
      proxy = await started.proxyTo(options.proxy);
      const [name, scheme] = PROXIED_URL[options.proxy];
      env[name] = `${scheme}://${proxy.address}`;
    }
    const lockServers = await started.lockServers(options.lockServers ?? 0);
    if (lockServers.length > 0) env.REDIS_LOCK_URLS = lockServers.map((server) => server.url).join(',');
    const starting = ((options.pods ?? [undefined]) as readonly (string | undefined)[]).map((pod) =>
      started.startStream(pod === undefined ? env : { ...env, POD_NAME: pod }),
    );
    const creating = [
      started.createPairs(options.pairs ?? 0),
      started.createPairs(options.unboundPairs ?? 0, { bound: false }),
    ];
    // Every start settles before a failure is thrown, so `after` finds each instance in the stack.
    await Promise.allSettled([...starting, ...creating]);
    const [streams, [pairs, unboundPairs]] = await Promise.all([Promise.all(starting), Promise.all(creating)]);
    ready = { streams: streams as Ready['streams'], pairs: pairs!, unboundPairs: unboundPairs!, proxy, lockServers };
  });

  after(async () => {
    await stack?.stop();
  });

  return {
    get stack() {
      assert.ok(stack, `${label}: read stack before the suite's set-up started`);
      return stack;
    },
    get stream() {
      return (get('streams') as readonly AppProcess[])[0]!;
    },
    get streams() {
      return get('streams');
    },
    get pairs() {
      return get('pairs');
    },
    get unboundPairs() {
      return get('unboundPairs');
    },
    get proxy() {
      const proxy = get('proxy');
      assert.ok(proxy, `${label}: the suite has no proxy (options.proxy)`);
      return proxy;
    },
    get lockServers() {
      return get('lockServers');
    },
  };
}

export async function createUser(baseUrl: string, name: string): Promise<string> {
  const res = await request(baseUrl, 'POST', '/users', { body: { name } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

export async function createProfile(baseUrl: string, name: string, userIds: readonly string[]): Promise<string> {
  const res = await request(baseUrl, 'POST', '/profiles', { body: { name, userIds } });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.id;
}

/**
 * `count` fresh users in base at `baseUrl`, each with a fresh profile of its own: bound to it,
 * or with no user at all when `bound` is false.
 */
export async function createPairs(
  baseUrl: string,
  count: number,
  { bound = true, concurrency = 16 }: { bound?: boolean; concurrency?: number } = {},
): Promise<Pair[]> {
  return mapWithConcurrency(Array.from({ length: count }), concurrency, async (_, index) => {
    const userId = await createUser(baseUrl, `user ${index}`);
    return { userId, profileId: await createProfile(baseUrl, `profile ${index}`, bound ? [userId] : []) };
  });
}

/**
 * Opens a stream and waits for its `hello`; fails with the refusal if it is not a stream. By
 * default it sends a valid token for the pair's user (`options.auth` to choose another credential).
 */
export async function openStream(url: string, pair: Pair, options?: SseClientOptions): Promise<SseClient> {
  const client = await SseClient.open(url, streamPath(pair), options);
  if (!client.streaming) {
    const body = await client.json().catch(() => client.text);
    await client.close();
    assert.fail(`expected a stream for ${streamPath(pair)}, got ${client.status} ${JSON.stringify(body)}`);
  }
  await client.waitForEvent('hello');
  return client;
}

/**
 * The gap a client counts up to the end of its stream: its `seq` gaps plus the events after the
 * last one it received, up to the `lastSeq` its closing event (`lock-lost`, `reconnect`) names.
 */
export function gapsToEnd(client: SseClient): number {
  const closing = client.events.filter((e) => e.event === 'lock-lost' || e.event === 'reconnect').at(-1);
  assert.ok(closing, `${client.path}: the stream sent no closing event`);
  const { lastSeq } = JSON.parse(closing.data) as { lastSeq: number };
  assert.ok(lastSeq >= client.lastSeq, `${client.path}: closing lastSeq ${lastSeq} < ${client.lastSeq}`);
  return client.gaps + lastSeq - client.lastSeq;
}

/** Parsed `hello` data. */
export function helloOf(client: SseClient): { pod: string; fencingToken: number; lockTtlMs: number } {
  const hello = client.events.find((event) => event.event === 'hello');
  assert.ok(hello, 'the stream sent no hello');
  return JSON.parse(hello.data);
}

/**
 * A refused stream request: asserts the status, a JSON error body with `code`, no SSE bytes, and
 * `Retry-After` exactly for 503 and 429. Returns the body.
 */
export async function expectRefusal(
  client: SseClient,
  status: number,
  code: string,
): Promise<{ statusCode: number; code: string; message: string }> {
  const body = await client.json();
  assert.equal(client.status, status, `${client.path}: ${JSON.stringify(body)}`);
  assert.match(client.headers['content-type'] ?? '', /^application\/json/);
  assert.equal(body.statusCode, status);
  assert.equal(body.code, code);
  assert.equal(typeof body.message, 'string');
  assert.doesNotMatch(client.text, /^(retry|event|data|id):/m, 'a refusal carries no SSE frame');
  assert.equal(client.events.length, 0);
  if (status === 503 || status === 429) {
    assert.match(client.headers['retry-after'] ?? '', /^\d+$/, `${status} carries Retry-After`);
  } else assert.equal(client.headers['retry-after'], undefined);
  return body;
}

/**
 * Opens `pair` expecting a refusal; returns the body, the response headers and how long the
 * answer took. `options.auth` chooses the credential (default: the pair's user's own token).
 */
export async function refusedStream(
  url: string,
  pair: Pair,
  status: number,
  code: string,
  options?: SseClientOptions,
): Promise<{ body: { code: string; message: string }; headers: Record<string, string>; elapsedMs: number }> {
  const started = performance.now();
  const client = await SseClient.open(url, streamPath(pair), options);
  const body = await expectRefusal(client, status, code);
  const elapsedMs = performance.now() - started;
  await client.close();
  return { body, headers: client.headers, elapsedMs };
}

/** A client asking for one pair again and again until it streams: see {@link retryStream}. */
export interface StreamRetry {
  /** Every refusal so far: its status, its error code and when it came (`performance.now()`). */
  readonly refusals: readonly { status: number; code: string; at: number }[];
  /** The streaming client once it has its `hello`; undefined when `stop()` ended the asking first. */
  readonly done: Promise<SseClient | undefined>;
  stop(): void;
}

/**
 * Opens `pair` on `url` again and again, `pauseMs` apart, until it streams or `stop()` is called,
 * recording every refusal. With `refusal`, every refusal must be that status and code (asserted as
 * {@link expectRefusal} does); with `timeoutMs`, asking longer than that fails.
 */
export function retryStream(
  url: string,
  pair: Pair,
  options: { pauseMs?: number; timeoutMs?: number; refusal?: readonly [status: number, code: string] } = {},
): StreamRetry {
  const { pauseMs = 0, timeoutMs = Number.POSITIVE_INFINITY, refusal } = options;
  const refusals: { status: number; code: string; at: number }[] = [];
  const deadline = performance.now() + timeoutMs;
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const client = await SseClient.open(url, streamPath(pair));
      if (client.streaming) {
        await client.waitForEvent('hello');
        return client;
      }
      try {
        const body = refusal
          ? await expectRefusal(client, ...refusal)
          : await client.json().catch(() => ({ code: client.text }));
        refusals.push({ status: client.status, code: body.code, at: performance.now() });
      } finally {
        await client.close();
      }
      if (performance.now() > deadline)
        assert.fail(`${streamPath(pair)} still refused after ${refusals.length} attempts`);
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    return undefined;
  })();
  return {
    refusals,
    done,
    stop: () => {
      stopped = true;
    },
  };
}

/**
 * Opens `pair` on `url` until it streams, `pauseMs` apart, every refusal on the way a 409 (the pair
 * is still held); fails after `timeoutMs`. Resolves with the client and the attempts made.
 */
export async function openWhenFree(
  url: string,
  pair: Pair,
  timeoutMs: number,
  pauseMs = 0,
): Promise<{ client: SseClient; attempts: number }> {
  const retry = retryStream(url, pair, { timeoutMs, pauseMs, refusal: [409, 'PROFILE_IN_USE'] });
  const client = await retry.done;
  assert.ok(client, 'nothing stops these retries');
  return { client, attempts: retry.refusals.length + 1 };
}

/** A Prometheus text exposition, parsed. */
export class Metrics {
  private constructor(private readonly samples: Map<string, number>) {}

  static async scrape(url: string): Promise<Metrics> {
    const res = await request<string>(url, 'GET', '/metrics');
    assert.equal(res.status, 200);
    const samples = new Map<string, number>();
    for (const line of res.body.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)/.exec(line);
      assert.ok(match, `malformed metrics line: ${line}`);
      samples.set(match[1]!, Number(match[2]));
    }
    return new Metrics(samples);
  }

  /** The sample `name{labels}` (labels in exposition order); 0 when absent, as for an unused counter. */
  value(name: string, labels: Record<string, string> = {}): number {
    const entries = Object.entries(labels);
    const key = entries.length === 0 ? name : `${name}{${entries.map(([k, v]) => `${k}="${v}"`).join(',')}}`;
    return this.samples.get(key) ?? 0;
  }

  get active(): number {
    return this.value('stream_active_connections');
  }

  get locksHeld(): number {
    return this.value('stream_locks_held');
  }
}

/** Asserts both gauges of `url` equal `expected` (the streams the test holds open there). */
export async function expectGauges(url: string, expected: number, what = ''): Promise<void> {
  const metrics = await Metrics.scrape(url);
  assert.deepEqual(
    { active: metrics.active, locksHeld: metrics.locksHeld },
    { active: expected, locksHeld: expected },
    `gauges of ${url} ${what}`,
  );
}

/** Waits until both gauges of `url` read `expected` (a closed socket takes the server a moment to see). */
export async function gaugesSettle(url: string, expected: number, timeoutMs = 2000): Promise<void> {
  await eventually(() => expectGauges(url, expected, `(waited up to ${timeoutMs} ms)`), timeoutMs);
}

/**
 * Waits until the stream at `url` counts `voting` lock servers that may vote (one that restarted
 * or lost its data sits out a lease first); returns how long that took.
 */
export async function votingSettles(url: string, voting: number, timeoutMs = FAST_LOCK_TTL_MS + 3000): Promise<number> {
  const started = performance.now();
  await eventually(
    async () => assert.equal((await Metrics.scrape(url)).value('stream_lock_servers_voting'), voting),
    timeoutMs,
    25,
  );
  return performance.now() - started;
}

/** Resident set size of process `pid` in bytes (Linux `/proc/<pid>/status` VmRSS). */
export function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, `no VmRSS for pid ${pid}`);
  return Number(match[1]) * 1024;
}

export const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** Resolves with how the child exited, once it has. */
export function exitOf(app: AppProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  const { child } = app;
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
