import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { closeRedis, connectRedis, createRedisClient } from '@app/lock';
import { type AppProcess, RedisServer, startApp } from '@app/testing';
import { SseClient } from '../support/sse-client.js';
import { expectRefusal, QUICK_STREAM_ENV, streamPath } from '../support/stream-stack.js';

type Answer = (res: ServerResponse) => void;

const json =
  (status: number, body: unknown): Answer =>
  (res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };

/** What a stranger, a proxy or a broken base might answer the binding check with. */
const UNEXPECTED: Record<string, Answer> = {
  '302 redirect': (res) => res.writeHead(302, { location: '/login' }).end(),
  '200 with a JSON body': json(200, { bound: true }),
  '200 empty': (res) => res.writeHead(200).end(),
  '201': json(201, {}),
  '404 empty': (res) => res.writeHead(404).end(),
  '404 without a code': json(404, { message: 'Not Found' }),
  '404 with a code of another status': json(404, { statusCode: 404, code: 'PROFILE_IN_USE', message: 'x' }),
  '404 ROUTE_NOT_FOUND (another version of base)': json(404, {
    statusCode: 404,
    code: 'ROUTE_NOT_FOUND',
    message: 'x',
  }),
  '403 NOT_BOUND (not base’s to say)': json(403, { statusCode: 403, code: 'NOT_BOUND', message: 'x' }),
  '400 without a code': json(400, { error: 'bad' }),
  '500': json(500, { statusCode: 500, code: 'INTERNAL', message: 'boom' }),
  '502 from a proxy, as HTML': (res) => res.writeHead(502, { 'content-type': 'text/html' }).end('<h1>Bad Gateway</h1>'),
  '200 garbage': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"bound": tru'),
};

describe('stream when base answers the binding check unexpectedly', () => {
  let fakeBase: Server;
  let answer: Answer = (res) => res.writeHead(204).end();
  let redis: RedisServer;
  let stream: AppProcess;
  const checks: string[] = [];

  before(async () => {
    fakeBase = createServer((req: IncomingMessage, res: ServerResponse) => {
      // Readiness of "base" is fine; only the binding check misbehaves.
      if (req.url === '/health/ready') return json(200, { status: 'ok' })(res);
      checks.push(req.url ?? '');
      answer(res);
    });
    await new Promise<void>((done) => fakeBase.listen(0, '127.0.0.1', done));
    const { port } = fakeBase.address() as { port: number };
    redis = await RedisServer.start();
    stream = await startApp('stream', {
      ...QUICK_STREAM_ENV,
      BASE_URL: `http://127.0.0.1:${port}`,
      REDIS_URL: redis.url,
    });
  });

  after(async () => {
    await stream?.stop();
    await redis?.dispose();
    await new Promise((done) => fakeBase?.close(done));
  });

  const pair = () => ({ userId: randomUUID(), profileId: randomUUID() });

  it('streams on exactly 204, so the fake is really asked', async () => {
    answer = (res) => res.writeHead(204).end();
    const client = await SseClient.open(stream.url, streamPath(pair()));
    assert.equal(client.status, 200);
    assert.ok(client.streaming);
    await client.close();
  });

  it('passes base’s own refusals on: 404 USER_NOT_FOUND / PROFILE_NOT_FOUND, 403 for BINDING_NOT_FOUND', async () => {
    for (const [code, status, ours] of [
      ['USER_NOT_FOUND', 404, 'USER_NOT_FOUND'],
      ['PROFILE_NOT_FOUND', 404, 'PROFILE_NOT_FOUND'],
      ['BINDING_NOT_FOUND', 403, 'NOT_BOUND'],
    ] as const) {
      answer = json(404, { statusCode: 404, code, message: 'no' });
      const client = await SseClient.open(stream.url, streamPath(pair()));
      await expectRefusal(client, status, ours);
      await client.close();
    }
  });

  for (const [what, unexpected] of Object.entries(UNEXPECTED)) {
    it(`answers 503 DEPENDENCY_UNAVAILABLE, never a stream or a 404, when base answers ${what}`, async () => {
      answer = unexpected;
      const asked = checks.length;
      const client = await SseClient.open(stream.url, streamPath(pair()));
      const body = await expectRefusal(client, 503, 'DEPENDENCY_UNAVAILABLE');
      assert.match(body.message, /base is unavailable/);
      await client.close();
      assert.equal(checks.length, asked + 1, 'the binding check was asked once');
    });
  }

  it('took no lock for any refused stream', async () => {
    const client = createRedisClient(redis.url, { commandTimeoutMs: 1000, name: 'base-answers' });
    await connectRedis(client);
    try {
      assert.deepEqual(await client.keys('kubescaler:lock:*'), []);
      assert.deepEqual(await client.keys('kubescaler:launched:*'), []);
    } finally {
      await closeRedis(client);
    }
  });
});
