import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { type AppProcess, eventually, request, startApp } from '@app/testing';
import { SseClient } from '../support/sse-client.js';
import {
  createProfile,
  createUser,
  gaugesSettle,
  helloOf,
  openStream,
  refusedStream,
  streamPath,
  streamSuite,
  type Pair,
} from '../support/stream-stack.js';

const ADMIN_TOKEN = 'publish-admin-token-0123456789';
const PUBLISHER_TOKEN = 'publisher-token-abcdefghijklmnop';
/** A short history, so a reconnect can fall outside it in a test. */
const HISTORY = { STREAM_HISTORY_MAX_EVENTS: '5', STREAM_HISTORY_MAX_AGE_MS: '60000' };
const ENTRY_ID = /^\d+-\d+$/;
const EVENT_ID = /^(\d+)\.(\d+-\d+)\.([0-9a-f]{16})$/;

describe('published events: the publish API, delivery on any pod, history and resume', () => {
  const suite = streamSuite('publish', {
    env: { ...HISTORY, STREAM_MAX_PER_USER: '2' },
    pods: ['stream-a', 'stream-b'],
    pairs: 4,
    unboundPairs: 1,
  });
  let main: AppProcess;

  before(async () => {
    main = await startApp('main', {
      ...HISTORY,
      BASE_URL: suite.stack.base.url,
      REDIS_URL: suite.stack.redis.url,
      ADMIN_TOKEN,
      PUBLISH_TOKENS: PUBLISHER_TOKEN,
      PUBLISH_MAX_DATA_BYTES: '1024',
    });
  });
  after(async () => {
    await main?.stop();
  });

  // Whatever a case asserted, its streams are gone before the next one looks at locks and sockets.
  const open: SseClient[] = [];
  const track = (client: SseClient) => (open.push(client), client);
  afterEach(async () => {
    await Promise.all(open.splice(0).map((client) => client.close()));
    for (const pod of suite.streams) await gaugesSettle(pod.url, 0);
  });

  const publish = (pair: Pair, body: unknown, token: string | null = ADMIN_TOKEN, path = publishPath(pair)) =>
    request(main.url, 'POST', path, {
      body,
      auth: 'none',
      headers: token === null ? {} : { authorization: `Bearer ${token}` },
    });
  const publishPath = ({ userId, profileId }: Pair) => `/main/publish/${userId}/${profileId}`;

  it('answers 202 {id} for the admin token, a publisher token and the pair user’s own token', async () => {
    const pair = suite.pairs[0]!;
    const { mintUserToken } = await import('@app/testing');
    for (const token of [ADMIN_TOKEN, PUBLISHER_TOKEN, await mintUserToken(pair.userId)]) {
      const res = await publish(pair, { event: 'note', data: { n: 1 } }, token);
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.match(res.body.id, ENTRY_ID);
    }
    // Publishing to a pair nobody streams is fine: it is kept in the pair's history.
    assert.equal(await suite.stack.inspect.xlen(`kubescaler:events:${pair.userId}:${pair.profileId}`), 3);
  });

  it('refuses bad credentials, ids, bodies, event names and sizes with the catalog’s 4xx', async () => {
    const [pair, other] = suite.pairs as [Pair, Pair];
    const { mintUserToken } = await import('@app/testing');
    const cases: [string, () => ReturnType<typeof publish>, number, string][] = [
      ['no token', () => publish(pair, { data: 1 }, null), 401, 'UNAUTHENTICATED'],
      ['a bad token', () => publish(pair, { data: 1 }, 'not-a-token'), 401, 'UNAUTHENTICATED'],
      [
        "another user's token",
        async () => publish(pair, { data: 1 }, await mintUserToken(other.userId)),
        403,
        'FORBIDDEN',
      ],
      [
        'a bad user id',
        () => publish(pair, { data: 1 }, ADMIN_TOKEN, `/main/publish/nope/${pair.profileId}`),
        400,
        'INVALID_ID',
      ],
      [
        'a bad profile id',
        () => publish(pair, { data: 1 }, ADMIN_TOKEN, `/main/publish/${pair.userId}/x`),
        400,
        'INVALID_ID',
      ],
      ['no data', () => publish(pair, { event: 'x' }), 400, 'VALIDATION_FAILED'],
      ['an unknown field', () => publish(pair, { data: 1, extra: true }), 400, 'VALIDATION_FAILED'],
      ['a body that is not an object', () => publish(pair, [1, 2]), 400, 'VALIDATION_FAILED'],
      ['an event name with a line break', () => publish(pair, { event: 'a\nb', data: 1 }), 400, 'INVALID_EVENT_NAME'],
      ['an event name with a space', () => publish(pair, { event: 'a b', data: 1 }), 400, 'INVALID_EVENT_NAME'],
      ['an empty event name', () => publish(pair, { event: '', data: 1 }), 400, 'INVALID_EVENT_NAME'],
      ['a reserved event name', () => publish(pair, { event: 'hello', data: 1 }), 400, 'INVALID_EVENT_NAME'],
      ['data over the limit', () => publish(pair, { data: 'x'.repeat(1100) }), 413, 'EVENT_TOO_LARGE'],
      ['a body over 1 MiB', () => publish(pair, { data: 'x'.repeat(1_100_000) }), 413, 'PAYLOAD_TOO_LARGE'],
      ['an unbound pair', () => publish(suite.unboundPairs[0]!, { data: 1 }), 403, 'NOT_BOUND'],
      [
        'an unknown profile',
        () => publish({ userId: pair.userId, profileId: '00000000-0000-4000-8000-000000000000' }, { data: 1 }),
        404,
        'PROFILE_NOT_FOUND',
      ],
    ];
    const before = await suite.stack.inspect.xlen(`kubescaler:events:${pair.userId}:${pair.profileId}`);
    for (const [what, send, status, code] of cases) {
      const res = await send();
      assert.deepEqual([res.status, res.body.code], [status, code], `${what}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.statusCode, status, what);
      assert.equal(typeof res.body.message, 'string', what);
    }
    const notJson = await request(main.url, 'POST', publishPath(pair), {
      rawBody: '{"data":',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    });
    assert.deepEqual([notJson.status, notJson.body.code], [400, 'VALIDATION_FAILED']);
    assert.equal(
      await suite.stack.inspect.xlen(`kubescaler:events:${pair.userId}:${pair.profileId}`),
      before,
      'nothing refused was published',
    );
  });

  it('delivers a published event, data intact, to the live stream on whichever pod holds the pair', async () => {
    const pair = suite.pairs[1]!;
    for (const pod of suite.streams) {
      const client = track(await openStream(pod.url, pair));
      const data = { text: 'line one\nline two', price: 12.5, nested: [null, true, { é: '✓' }] };
      const named = await publish(pair, { event: 'price.update', data });
      const plain = await publish(pair, { data: 'just a string' });
      await client.waitUntil(() => client.published.length >= 2, 3000, 'two published events');
      const [first, second] = client.published as [SseClient['published'][number], SseClient['published'][number]];
      assert.equal(first.event, 'price.update');
      assert.deepEqual(JSON.parse(first.data), data);
      assert.equal(EVENT_ID.exec(first.id ?? '')?.[2], named.body.id, 'the id carries the entry publish answered');
      assert.equal(second.event, 'message', 'no event name: the default');
      assert.equal(JSON.parse(second.data), 'just a string');
      assert.equal(EVENT_ID.exec(second.id ?? '')?.[2], plain.body.id);
      assert.equal(client.protocolErrors.length, 0, client.protocolErrors.join('; '));
      await client.waitUntil(() => client.messages > 0, 3000, 'generated events beside the published ones');
      assert.equal(client.gaps, 0, 'a published event is no gap in the generated sequence');
      await client.close();
      await gaugesSettle(pod.url, 0);
    }
  });

  it('replays what a client missed, in order, on another pod, then goes live; and says when events were lost', async () => {
    const [a, b] = suite.streams;
    const pair = suite.pairs[2]!;
    const first = track(await openStream(a.url, pair));
    await publish(pair, { event: 'n', data: 0 });
    await first.waitUntil(() => first.published.length === 1, 3000, 'event 0');
    const lastEventId = first.lastEventId!;
    await first.close();
    await gaugesSettle(a.url, 0);

    // Inside the history (5 events): every missed event, in order, then live.
    for (let n = 1; n <= 3; n++) await publish(pair, { event: 'n', data: n });
    const second = track(await openStream(b.url, pair, { headers: { 'Last-Event-ID': lastEventId } }));
    await second.waitUntil(() => second.published.length === 3, 3000, 'three missed events');
    await publish(pair, { event: 'n', data: 4 });
    await second.waitUntil(() => second.published.length === 4, 3000, 'the live event');
    assert.deepEqual(
      second.published.map((event) => JSON.parse(event.data)),
      [1, 2, 3, 4],
    );
    assert.ok(!second.events.some((event) => event.event === 'events-lost'));
    const resumeFrom = second.lastEventId!;
    assert.equal(EVENT_ID.exec(resumeFrom)?.[3], EVENT_ID.exec(lastEventId)?.[3], 'the same client session');
    await second.close();
    await gaugesSettle(b.url, 0);

    // Outside it: 8 more events, of which the history keeps the last 5.
    for (let n = 5; n <= 12; n++) await publish(pair, { event: 'n', data: n });
    const third = track(await openStream(a.url, pair, { headers: { 'Last-Event-ID': resumeFrom } }));
    await third.waitUntil(() => third.published.length === 5, 3000, 'what the history still has');
    const lost = third.events.find((event) => event.event === 'events-lost');
    assert.ok(lost, 'the client is told that events were lost');
    assert.ok(third.events.indexOf(lost) < third.events.indexOf(third.published[0]!), 'before the events that follow');
    assert.equal(JSON.parse(lost.data).after, EVENT_ID.exec(resumeFrom)?.[2]);
    assert.deepEqual(
      third.published.map((event) => JSON.parse(event.data)),
      [8, 9, 10, 11, 12],
    );
    await third.close();
    await gaugesSettle(a.url, 0);
  });

  it('caps a user’s live streams across pods with 429 and Retry-After, before the lock', async () => {
    const [a, b] = suite.streams;
    const userId = await createUser(suite.stack.base.url, 'busy user');
    const pairs = await Promise.all(
      [0, 1, 2].map(async (i) => ({ userId, profileId: await createProfile(suite.stack.base.url, `p${i}`, [userId]) })),
    );
    const live = [track(await openStream(a.url, pairs[0]!)), track(await openStream(b.url, pairs[1]!))];
    const { headers, body } = await refusedStream(a.url, pairs[2]!, 429, 'TOO_MANY_STREAMS');
    assert.equal(headers['retry-after'], '5');
    assert.match(body.message, /2 live streams/);
    assert.equal(await suite.stack.launchedRecord(pairs[2]!), null, 'the refused pair was never locked');
    // A standard EventSource is told to retry instead.
    const standard = await SseClient.open(b.url, streamPath(pairs[2]!), { standard: true, keepMessageData: true });
    await standard.closed;
    assert.equal(standard.status, 200);
    assert.ok(standard.retry! >= 5000 && standard.retry! <= 7500, String(standard.retry));
    assert.equal(JSON.parse(standard.events.find((e) => e.event === 'refused')!.data).code, 'TOO_MANY_STREAMS');
    // One stream ends: the user may open another at once.
    await live[0]!.close();
    await gaugesSettle(a.url, 0);
    const third = track(await openStream(a.url, pairs[2]!));
    await third.close();
    await live[1]!.close();
  });

  it('answers HEAD with the stream headers and never takes the lock, however long it stays connected', async () => {
    const [a] = suite.streams;
    const pair = suite.pairs[3]!;
    const { mintUserToken } = await import('@app/testing');
    const { Agent, request: raw } = await import('undici');
    const agent = new Agent({ keepAliveTimeout: 60_000 });
    const res = await raw(`${a.url}${streamPath(pair)}`, {
      method: 'HEAD',
      dispatcher: agent,
      headers: { authorization: `Bearer ${await mintUserToken(pair.userId)}` },
    });
    await res.body.dump();
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    // The HEAD's connection is still open: the pair is free, on this pod and the other.
    assert.equal(await suite.stack.launchedRecord(pair), null);
    assert.equal(await suite.stack.inspect.exists(`kubescaler:lock:${pair.userId}:${pair.profileId}`), 0);
    assert.equal(await suite.stack.inspect.exists(`kubescaler:user-streams:${pair.userId}`), 0);
    const client = track(await openStream(a.url, pair));
    assert.ok(helloOf(client).fencingToken >= 1);
    await client.close();
    await agent.close();
  });

  it('accepts back as Last-Event-ID every id it sends, the largest seq included', async () => {
    const [, b] = suite.streams;
    const pair = suite.pairs[3]!;
    await gaugesSettle(suite.streams[0].url, 0);
    const session = '00112233445566ff';
    const client = track(await openStream(b.url, pair, { headers: { 'Last-Event-ID': `${2 ** 50}.0-0.${session}` } }));
    await client.waitUntil(() => client.events.filter((e) => e.event === 'message').length >= 2, 3000, 'messages');
    const ids = client.events.filter((e) => e.id !== undefined).map((e) => e.id!);
    for (const id of ids) assert.match(id, EVENT_ID);
    const seqs = client.events.filter((e) => e.event === 'message').map((e) => Number(EVENT_ID.exec(e.id!)![1]));
    assert.deepEqual(seqs.slice(0, 2), [1, 2], 'after the largest seq the sequence starts again at 1');
    await client.close();
    await gaugesSettle(b.url, 0);
    const again = track(await openStream(b.url, pair, { headers: { 'Last-Event-ID': ids.at(-1)! } }));
    await again.close();
    await eventually(
      async () => assert.equal(await suite.stack.inspect.exists(`kubescaler:lock:${pair.userId}:${pair.profileId}`), 0),
      2000,
    );
  });
});
