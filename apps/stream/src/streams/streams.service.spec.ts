import assert from 'node:assert/strict';
import { createServer, get, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Authenticator, Principal } from '@app/auth';
import type { BaseClient } from '@app/base-client';
import { type StreamConfig, loadConfig } from '@app/config';
import { AppError, type ErrorCode } from '@app/errors';
import { Readiness } from '@app/health';
import type { HeldLock, PairLock } from '@app/lock';
import { MetricsService } from '@app/metrics';
import { GeneratorSource } from '../sources/generator-source.js';
import type { PairChannels } from '../sources/pair-channels.js';
import type { SequenceAnchor } from './sequence-anchor.js';
import type { SequenceAnchors } from './sequence-anchors.js';
import type { SocketTuning } from './socket-tuning.js';
import { type RejectReason, StreamMetrics } from './stream-metrics.js';
import { StreamsService } from './streams.service.js';
import type { UserStreamCap, UserStreamPlace } from './user-stream-cap.js';

const ALICE = 'a11ce000-0000-4000-8000-000000000001';
const BOB = 'b0b00000-0000-4000-8000-000000000002';
const PROFILE = 'f0000000-0000-4000-8000-00000000000f';

function config(maxConnections = 2): StreamConfig {
  return loadConfig('stream', {
    POD_NAME: 'stream-spec',
    AUTH_JWT_SECRET: 'a-secret-of-at-least-thirty-two-characters!',
    STREAM_MAX_CONNECTIONS: String(maxConnections),
    STREAM_EVENTS_PER_SECOND: '2',
    STREAM_EVENT_BYTES: '16',
  });
}

/** A promise settled from outside, to hold a call in flight. */
function deferred<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Tokens are `Bearer <userId>`; `Bearer expired` does not verify; `Bearer idp-down` cannot be checked. */
class FakeAuth {
  calls = 0;

  async authenticate(request: IncomingMessage): Promise<Principal> {
    this.calls++;
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    if (token === undefined) return { kind: 'anonymous' };
    if (token === 'expired') {
      throw AppError.of('UNAUTHENTICATED', {
        token: 'invalid',
        transport: 'header',
        problem: 'expired',
        reason: 'expired',
      });
    }
    if (token === 'idp-down') throw AppError.dependencyUnavailable('identity provider');
    return { kind: 'user', userId: token, expiresAt: new Date(Date.now() + 60_000), transport: 'header' };
  }

  requireUser(principal: Principal, userId: string): void {
    if (principal.kind === 'anonymous') throw AppError.of('UNAUTHENTICATED', { token: 'user-missing' });
    if (principal.kind !== 'user' || principal.userId !== userId)
      throw AppError.of('FORBIDDEN', { because: 'another-user' });
  }
}

/** base's binding check: bound unless `answer` says otherwise; `hold` keeps the next checks in flight. */
class FakeBase {
  readonly asked: string[] = [];
  answer: () => Promise<void> = async () => {};

  assertBound(userId: string, profileId: string): Promise<void> {
    this.asked.push(`${userId}/${profileId}`);
    return this.answer();
  }
}

class FakeHeldLock implements HeldLock {
  readonly resource = `kubescaler:lock:{${ALICE}}:{${PROFILE}}`;
  readonly fencingToken = 42;
  readonly since = new Date();
  readonly lostReason = undefined;
  releases = 0;

  isValid(): boolean {
    return this.releases === 0;
  }

  onLost(): () => void {
    return () => {};
  }

  async release(): Promise<void> {
    this.releases++;
  }
}

/** The pair lock: grants a `FakeHeldLock` unless `refuseWith` is set; `beforeGrant` runs while it is acquiring. */
class FakeLock {
  readonly acquired: string[] = [];
  readonly held: FakeHeldLock[] = [];
  refuseWith: unknown;
  beforeGrant: () => void = () => {};
  readonly votingServers = 1;
  readonly quorum = 1;

  get heldCount(): number {
    return this.held.filter((held) => held.releases === 0).length;
  }

  readonly sessions: string[] = [];

  async acquire(userId: string, profileId: string, { session }: { session: string }): Promise<HeldLock> {
    this.acquired.push(`${userId}/${profileId}`);
    this.sessions.push(session);
    this.beforeGrant();
    if (this.refuseWith) throw this.refuseWith;
    const held = new FakeHeldLock();
    this.held.push(held);
    return held;
  }
}

/** Where sequences stand: none saved (a resumed stream continues right after its Last-Event-ID). */
class FakeAnchors {
  read = async (): Promise<SequenceAnchor | undefined> => undefined;
  save = async (): Promise<void> => {};
}

/** The per-user cap: reserves unless `full`; remembers what was reserved and released. */
class FakeCap {
  full = false;
  readonly reserved: UserStreamPlace[] = [];
  readonly released: UserStreamPlace[] = [];

  async reserve(userId: string, profileId: string, owner: string): Promise<UserStreamPlace> {
    if (this.full) throw AppError.of('TOO_MANY_STREAMS', { maxPerUser: 3 });
    const place = { userId, member: `${profileId}:${owner}` };
    this.reserved.push(place);
    return place;
  }

  async refresh(): Promise<void> {}

  async release(place: UserStreamPlace): Promise<void> {
    this.released.push(place);
  }
}

/** Pair channels: subscriptions always succeed; take-over notices are recorded. */
class FakeChannels {
  subscribed = 0;
  readonly takeOvers: number[] = [];

  async subscribe(): Promise<{ unsubscribe: () => void; live: boolean }> {
    this.subscribed++;
    return { unsubscribe: () => this.subscribed--, live: true };
  }

  async announceTakeOver(_userId: string, _profileId: string, fencingToken: number): Promise<void> {
    this.takeOvers.push(fencingToken);
  }
}

/** Socket options are the kernel's business: nothing to set on a fake socket. */
class FakeSocketTuning {
  readonly cutsBehindQueues = false;
  apply(): void {}
  behind(): void {}
}

/** A client request that may already have gone; and the response the service would write to. */
function exchange({
  token,
  gone = false,
  lastEventId,
  method = 'GET',
  accept,
}: { token?: string; gone?: boolean; lastEventId?: string; method?: string; accept?: string } = {}) {
  const writes: unknown[] = [];
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
  if (accept !== undefined) headers.accept = accept;
  const request = { headers, destroyed: gone, method } as unknown as IncomingMessage;
  const response = {
    destroyed: gone,
    headersSent: false,
    socket: { destroyed: gone },
    writeHead: (...args: unknown[]) => writes.push(args),
    end: (body?: Buffer) => writes.push(['end', body?.toString()]),
    flushHeaders: () => {},
  } as unknown as ServerResponse;
  return { request, response, writes };
}

describe(StreamsService.name, () => {
  let auth: FakeAuth;
  let base: FakeBase;
  let lock: FakeLock;
  let readiness: Readiness;
  let metrics: StreamMetrics;
  let cap: FakeCap;
  let channels: FakeChannels;
  let sut: StreamsService;

  function build(maxConnections?: number): StreamsService {
    metrics = new StreamMetrics(new MetricsService());
    const settings = config(maxConnections);
    return new StreamsService(
      settings,
      base as unknown as BaseClient,
      auth as unknown as Authenticator,
      lock as unknown as PairLock,
      readiness,
      metrics,
      new FakeAnchors() as unknown as SequenceAnchors,
      new FakeSocketTuning() as unknown as SocketTuning,
      cap as unknown as UserStreamCap,
      channels as unknown as PairChannels,
      [new GeneratorSource(settings.stream, settings.podName, async () => undefined)],
    );
  }

  beforeEach(() => {
    auth = new FakeAuth();
    base = new FakeBase();
    lock = new FakeLock();
    cap = new FakeCap();
    channels = new FakeChannels();
    readiness = new Readiness();
    sut = build();
  });

  /** Opens as `token` (ALICE's own by default) and returns the refusal, which must be `status code`. */
  async function refused(
    status: number,
    code: ErrorCode,
    {
      user = ALICE,
      profile = PROFILE,
      token = user,
      lastEventId,
    }: { user?: string; profile?: string; token?: string | null; lastEventId?: string } = {},
  ): Promise<AppError> {
    const { request, response, writes } = exchange({ token: token ?? undefined, lastEventId });
    const error = await sut.open(user, profile, request, response).then(
      () => assert.fail(`admitted; expected ${status} ${code}`),
      (error: unknown) => error,
    );
    assert.ok(error instanceof AppError, String(error));
    assert.deepEqual([error.status, error.code], [status, code], error.message);
    assert.deepEqual(writes, [], 'a refusal writes no byte of the stream');
    return error;
  }

  /** Opens ALICE's stream and resolves once it waits on base (admitted, its place taken); base never answers. */
  async function admitted(): Promise<void> {
    const asked = base.asked.length;
    base.answer = () => new Promise(() => {});
    const { request, response } = exchange({ token: ALICE });
    void sut.open(ALICE, PROFILE, request, response).catch(() => {});
    for (let turns = 0; base.asked.length === asked; turns++) {
      if (turns > 1000) assert.fail('the request never reached base');
      await new Promise((done) => setImmediate(done));
    }
  }

  async function rejections(): Promise<Partial<Record<RejectReason, number>>> {
    const { values } = await metrics.rejected.get();
    return Object.fromEntries(values.map(({ labels, value }) => [labels.reason, value]));
  }

  describe('admission order', () => {
    it('refuses malformed ids with 400 INVALID_ID before reading the token, asking base or locking', async () => {
      readiness.markDraining();
      await refused(400, 'INVALID_ID', { user: 'not-a-uuid', token: null });
      const error = await refused(400, 'INVALID_ID', { profile: `${PROFILE}x` });
      assert.match(error.message, new RegExp(`"${PROFILE}x" is not a valid id`));
      assert.deepEqual([auth.calls, base.asked, lock.acquired], [0, [], []]);
      assert.deepEqual(await rejections(), { bad_request: 2 });
    });

    it("checks the token before this pod's state: a draining, full pod still answers 401 and 403", async () => {
      sut = build(1);
      await admitted();
      readiness.markDraining();
      const missing = await refused(401, 'UNAUTHENTICATED', { token: null });
      assert.match(missing.message, /A user token is required/);
      await refused(401, 'UNAUTHENTICATED', { token: 'expired' });
      await refused(403, 'FORBIDDEN', { token: BOB });
      await refused(503, 'DEPENDENCY_UNAVAILABLE', { token: 'idp-down' });
      assert.deepEqual(await rejections(), { unauthenticated: 2, forbidden: 1, unavailable: 1 });
      assert.equal(base.asked.length, 1, 'only the first, admitted request reached base');
    });

    it("refuses a malformed Last-Event-ID with 400 after the token and before this pod's state, the binding or the lock", async () => {
      await refused(401, 'UNAUTHENTICATED', { token: null, lastEventId: 'x' });
      readiness.markDraining();
      const error = await refused(400, 'INVALID_LAST_EVENT_ID', { lastEventId: '12abc' });
      assert.match(error.message, /Last-Event-ID must be the id of an event this stream sent .*got "12abc"/);
      assert.deepEqual([base.asked, lock.acquired], [[], []]);
      assert.deepEqual(await rejections(), { unauthenticated: 1, bad_request: 1 });
    });

    it('answers 503 DRAINING with Retry-After once the pod drains, before the capacity check and the binding', async () => {
      sut = build(1);
      await admitted();
      readiness.markDraining();
      const error = await refused(503, 'DRAINING');
      assert.equal(error.retryAfterSeconds, 1);
      assert.deepEqual(await rejections(), { draining: 1 });
      assert.equal(base.asked.length, 1);
    });

    it('answers 503 POD_FULL when live and pending streams reach STREAM_MAX_CONNECTIONS, before asking base', async () => {
      sut = build(2);
      const first = deferred();
      const second = deferred();
      const answers = [first, second];
      base.answer = () => answers.shift()!.promise;
      const pending = [1, 2].map(() => {
        const { request, response } = exchange({ token: ALICE });
        return sut.open(ALICE, PROFILE, request, response).then(
          () => undefined,
          (error: unknown) => error,
        );
      });
      const full = await refused(503, 'POD_FULL');
      assert.equal(full.message, 'This pod is serving its maximum of 2 streams');
      assert.equal(full.retryAfterSeconds, 1);
      assert.equal(base.asked.length, 2, 'the refused request never reached base');
      // A request that leaves admission — refused by base here — frees its place at once.
      first.reject(AppError.of('BINDING_NOT_FOUND', { userId: ALICE, profileId: PROFILE }));
      assert.equal(((await pending[0]) as AppError).code, 'NOT_BOUND');
      await admitted();
      assert.equal(base.asked.length, 3, 'the freed place admitted the next request');
      await refused(503, 'POD_FULL');
      second.resolve();
      await pending[1];
      assert.deepEqual(await rejections(), { full: 2, not_bound: 1 });
    });

    it('lowercases the ids before asking base and the lock', async () => {
      const { request, response } = exchange({ token: ALICE, gone: true });
      await sut.open(ALICE.toUpperCase(), PROFILE.toUpperCase(), request, response);
      assert.deepEqual([base.asked, lock.acquired], [[`${ALICE}/${PROFILE}`], [`${ALICE}/${PROFILE}`]]);
    });
  });

  describe('the binding check', () => {
    it("turns base's BINDING_NOT_FOUND into 403 NOT_BOUND naming the pair, and never locks", async () => {
      base.answer = async () => {
        throw AppError.of('BINDING_NOT_FOUND', { userId: ALICE, profileId: PROFILE });
      };
      const error = await refused(403, 'NOT_BOUND');
      assert.equal(error.message, `User ${ALICE} is not bound to profile ${PROFILE}`);
      assert.deepEqual(lock.acquired, []);
      assert.deepEqual(await rejections(), { not_bound: 1 });
    });

    for (const code of ['USER_NOT_FOUND', 'PROFILE_NOT_FOUND'] as const) {
      it(`passes base's 404 ${code} on as it came, and never locks`, async () => {
        const fromBase =
          code === 'USER_NOT_FOUND' ? AppError.of(code, { userId: ALICE }) : AppError.of(code, { profileId: PROFILE });
        base.answer = async () => {
          throw fromBase;
        };
        assert.equal(await refused(404, code), fromBase);
        assert.deepEqual(lock.acquired, []);
        assert.deepEqual(await rejections(), { not_found: 1 });
      });
    }

    it('answers 503 DEPENDENCY_UNAVAILABLE for anything else base does, and never locks', async () => {
      const outage = AppError.dependencyUnavailable('base');
      for (const failure of [
        outage,
        AppError.of('INTERNAL'),
        AppError.of('PROFILE_IN_USE'),
        new TypeError('socket hang up'),
      ]) {
        base.answer = async () => {
          throw failure;
        };
        const error = await refused(503, 'DEPENDENCY_UNAVAILABLE');
        assert.deepEqual(error.details, { dependency: 'base' });
        if (failure === outage) assert.equal(error, outage);
      }
      assert.deepEqual(lock.acquired, []);
      assert.deepEqual(await rejections(), { unavailable: 4 });
    });
  });

  describe('the lock', () => {
    it('answers 409 PROFILE_IN_USE when the pair is live elsewhere, and frees its admission place', async () => {
      sut = build(1);
      lock.refuseWith = AppError.of('PROFILE_IN_USE');
      await refused(409, 'PROFILE_IN_USE');
      lock.refuseWith = AppError.dependencyUnavailable('redis');
      await refused(503, 'DEPENDENCY_UNAVAILABLE');
      assert.deepEqual(await rejections(), { in_use: 1, unavailable: 1 });
      assert.equal(lock.acquired.length, 2, 'the place of the refused request was free again');
    });

    it('gives the pair back at once, writing nothing, when the client left while it was checked and locked', async () => {
      const { request, response, writes } = exchange({ token: ALICE, gone: true });
      await sut.open(ALICE, PROFILE, request, response);
      assert.deepEqual(
        lock.held.map((held) => held.releases),
        [1],
      );
      assert.deepEqual([writes, sut.activeConnections], [[], 0]);
    });

    it('gives the pair back and answers 503 DRAINING when the pod began draining while it locked', async () => {
      lock.beforeGrant = () => readiness.markDraining();
      await refused(503, 'DRAINING');
      assert.deepEqual(
        lock.held.map((held) => held.releases),
        [1],
      );
      assert.deepEqual(await rejections(), { draining: 1 });
    });
  });

  describe('the per-user cap', () => {
    it('answers 429 TOO_MANY_STREAMS with Retry-After at the cap, before the lock is touched', async () => {
      cap.full = true;
      const error = await refused(429, 'TOO_MANY_STREAMS');
      assert.equal(error.retryAfterSeconds, 5);
      assert.deepEqual(lock.acquired, []);
      assert.deepEqual(await rejections(), { too_many: 1 });
    });

    it('gives the place back when the lock refuses the pair', async () => {
      lock.refuseWith = AppError.of('PROFILE_IN_USE');
      await refused(409, 'PROFILE_IN_USE');
      assert.deepEqual(cap.released, cap.reserved);
      assert.equal(cap.reserved.length, 1);
    });
  });

  describe('HEAD', () => {
    it('answers the stream headers after the checks, and never reserves a place or takes the lock', async () => {
      const { request, response, writes } = exchange({ token: ALICE, method: 'HEAD' });
      await sut.serve(ALICE, PROFILE, request, response);
      assert.equal((writes[0] as [number])[0], 200);
      assert.deepEqual(writes[1], ['end', undefined]);
      assert.deepEqual([lock.acquired, cap.reserved, base.asked.length], [[], [], 1]);
    });
  });

  describe('client sessions', () => {
    it('names a new session for a client without a Last-Event-ID, and locks the pair for it', async () => {
      const { request, response } = exchange({ token: ALICE, gone: true });
      await sut.open(ALICE, PROFILE, request, response);
      assert.match(lock.sessions[0]!, /^[0-9a-f]{16}$/);
      assert.deepEqual(channels.takeOvers, []);
    });

    it('passes a resumed session on to the lock (which may take the pair over) and announces the take-over', async () => {
      const { request, response } = exchange({ token: ALICE, gone: true, lastEventId: '7.0-0.0123456789abcdef' });
      await sut.open(ALICE, PROFILE, request, response);
      assert.deepEqual(lock.sessions, ['0123456789abcdef']);
      assert.deepEqual(channels.takeOvers, [42]);
    });
  });

  describe('refusals to a standard EventSource', () => {
    async function served(accept: string | undefined) {
      const { request, response, writes } = exchange({ token: ALICE, accept });
      const outcome = await sut.serve(ALICE, PROFILE, request, response).then(
        () => undefined,
        (error: unknown) => error,
      );
      return { outcome, writes };
    }

    it('tells a client that accepts only text/event-stream to retry, in a 200 stream, when retrying can fix it', async () => {
      lock.refuseWith = AppError.of('PROFILE_IN_USE');
      const { outcome, writes } = await served('text/event-stream');
      assert.equal(outcome, undefined);
      assert.equal((writes[0] as [number, Record<string, string>])[0], 200);
      assert.match((writes[0] as [number, Record<string, string>])[1]['Content-Type']!, /^text\/event-stream/);
      const body = (writes[1] as [string, string])[1];
      const match = /^retry: (\d+)\n\nevent: refused\ndata: (.*)\n\n$/.exec(body);
      assert.ok(match, body);
      assert.ok(Number(match[1]) >= 2000 && Number(match[1]) <= 3000, match[1]);
      assert.deepEqual(JSON.parse(match[2]!).code, 'PROFILE_IN_USE');
    });

    it('answers JSON with the status to a client that accepts JSON (ours, curl) or says nothing', async () => {
      lock.refuseWith = AppError.of('PROFILE_IN_USE');
      for (const accept of ['text/event-stream, application/json', '*/*', undefined]) {
        const { outcome, writes } = await served(accept);
        assert.ok(outcome instanceof AppError && outcome.status === 409, String(accept));
        assert.deepEqual(writes, []);
      }
    });

    it('keeps final refusals (not bound, bad token) as their status, which ends an EventSource for good', async () => {
      base.answer = async () => {
        throw AppError.of('BINDING_NOT_FOUND', { userId: ALICE, profileId: PROFILE });
      };
      const { outcome, writes } = await served('text/event-stream');
      assert.ok(outcome instanceof AppError && outcome.status === 403);
      assert.deepEqual(writes, []);
    });
  });

  describe('live streams', () => {
    const servers: ReturnType<typeof createServer>[] = [];
    afterEach(async () => {
      await sut.beforeApplicationShutdown();
      for (const server of servers.splice(0)) {
        server.closeAllConnections();
        await new Promise((done) => server.close(done));
      }
    });

    /** A real socket: the service streams to it; resolves with the client's response and first bytes. */
    async function connect(): Promise<{ client: IncomingMessage; first: string }> {
      const server = createServer((request, response) => {
        request.headers.authorization = `Bearer ${ALICE}`;
        sut.open(ALICE, PROFILE, request, response).catch((error: AppError) => response.writeHead(error.status).end());
      });
      servers.push(server);
      await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
      const { port } = server.address() as AddressInfo;
      const client = await new Promise<IncomingMessage>((done) => get({ port, host: '127.0.0.1', path: '/' }, done));
      const first = await new Promise<string>((done) => client.once('data', (chunk: Buffer) => done(chunk.toString())));
      return { client, first };
    }

    it('counts a stream live while it runs and releases its lock once when the client leaves', async () => {
      const { client, first } = await connect();
      assert.equal(client.statusCode, 200);
      assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
      assert.match(first, /^retry: 1000\n/);
      assert.equal(sut.activeConnections, 1);
      client.destroy();
      const held = lock.held[0]!;
      for (let i = 0; i < 100 && (held.releases === 0 || sut.activeConnections > 0); i++) {
        await new Promise((done) => setTimeout(done, 10));
      }
      assert.deepEqual([held.releases, sut.activeConnections, lock.heldCount], [1, 0, 0]);
    });

    it('on shutdown marks the pod draining, ends every stream with reconnect and releases every lock', async () => {
      const { client } = await connect();
      let rest = '';
      client.on('data', (chunk: Buffer) => (rest += chunk.toString()));
      const ended = new Promise((done) => client.once('end', done));
      await sut.beforeApplicationShutdown();
      await ended;
      assert.ok(readiness.draining);
      assert.match(rest, /event: reconnect\n/);
      assert.deepEqual([lock.held[0]!.releases, sut.activeConnections], [1, 0]);
      await refused(503, 'DRAINING');
    });
  });
});
