import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually, freePort, mintUserToken, request, startApp, testInfra } from '@app/testing';
import { isErrorCode, statusOf } from '@app/errors';
import { type AccessLogEntry, rawGet, readAccessLog } from '../support/gateway-log.js';
import { headerOf, rawExchange } from '../support/raw-http.js';
import { tcpSockets } from '../support/socket-memory.js';
import { SseClient } from '../support/sse-client.js';
import { helloOf, Metrics, openStream, type Pair, QUICK_STREAM_ENV, streamPath } from '../support/stream-stack.js';
import { ADMIN_TOKEN, createPairs, type Gateway, startGateway, startSystem, type System } from '../support/system.js';

const hostPort = (url: string) => new URL(url).host;

/** The access log line of the one request sent with User-Agent `agent` (nginx writes it as the request ends). */
async function logEntry(gateway: Gateway, agent: string): Promise<AccessLogEntry> {
  return eventually(async () => {
    const entries = readAccessLog(gateway.accessLog).filter((entry) => entry.userAgent === agent);
    assert.equal(entries.length, 1, `access log lines for ${agent}`);
    return entries[0]!;
  }, 2000);
}

describe('the nginx gateway in front of main and two stream replicas', () => {
  testInfra();
  let system: System;
  let pairs: Pair[];

  before(async () => {
    // Small, frequent events: a buffering proxy would hold dozens of them back.
    system = await startSystem({
      streams: 2,
      env: { ...QUICK_STREAM_ENV, STREAM_EVENTS_PER_SECOND: '4', STREAM_EVENT_BYTES: '64' },
    });
    pairs = await createPairs(system.base.url, 13);
  });
  after(async () => {
    await system?.stop();
  });

  it('routes /main and /main/* to main, /metrics and /health/* nowhere (403), everything else to the streams', async () => {
    const main = new Set([hostPort(system.main.url)]);
    const streams = new Set(system.streams.map((stream) => hostPort(stream.url)));
    const { userId, profileId } = pairs[0]!;
    const cases: Array<[path: string, to: 'main' | 'stream' | 'denied']> = [
      ['/main', 'main'],
      ['/main/', 'main'],
      ['/main/users?limit=1', 'main'],
      [`/main/login/${userId}`, 'main'],
      ['/main/suggested', 'main'],
      ['/main/../main/profiles', 'main'],
      ['/', 'stream'],
      [`/index/${userId}/${profileId}`, 'stream'],
      ['/style.css', 'stream'],
      ['/js/stream-page.js', 'stream'],
      ['/favicon.ico', 'stream'],
      [`/stream/${randomUUID()}/${randomUUID()}`, 'stream'],
      ['/stream/nope/nope', 'stream'],
      ['/mainly', 'stream'],
      ['/streams', 'stream'],
      ['/metricsx', 'stream'],
      ['/healthz', 'stream'],
      ['/metrics', 'denied'],
      ['/metrics/', 'denied'],
      ['/metrics?name=x', 'denied'],
      ['/health', 'denied'],
      ['/health/live', 'denied'],
      ['/health/ready', 'denied'],
      // nginx normalises the path before it picks a location: no way around the denial.
      ['//metrics', 'denied'],
      ['/main/../metrics', 'denied'],
      ['/stream/../health/ready', 'denied'],
      ['/%6detrics', 'denied'],
      ['/health%2Flive', 'denied'],
    ];
    for (const [index, [path, to]] of cases.entries()) {
      const agent = `route-check-${index}`;
      const response = await rawGet(system.gateway.url, path, { 'user-agent': agent });
      const entry = await logEntry(system.gateway, agent);
      if (to === 'denied') {
        assert.equal(response.status, 403, `${path} → ${response.status}`);
        assert.deepEqual(entry.upstreams, ['-'], `${path} reached ${entry.upstreams}`);
      } else {
        assert.ok(response.status < 500, `${path} → ${response.status}`);
        assert.equal(entry.upstreams.length, 1, `${path}: ${entry.line}`);
        assert.ok((to === 'main' ? main : streams).has(entry.upstreams[0]!), `${path} went to ${entry.upstreams}`);
      }
    }
    const landing = await request(system.gateway.url, 'GET', '/');
    assert.equal(landing.status, 200);
    assert.match(landing.body, /<title>kubescaler<\/title>/);
  });

  it('adds no X-Forwarded-* header to any response', async () => {
    const { userId, profileId } = pairs[1]!;
    for (const path of ['/', '/main/users', `/main/login/${userId}`, '/metrics', '/nowhere']) {
      const response = await rawGet(system.gateway.url, path, { 'x-forwarded-for': '203.0.113.7' });
      const forwarded = Object.keys(response.headers).filter((name) => name.startsWith('x-forwarded'));
      assert.deepEqual(forwarded, [], `${path}: ${forwarded}`);
    }
    const stream = await openStream(system.gateway.url, { userId, profileId });
    assert.deepEqual(
      Object.keys(stream.headers).filter((name) => name.startsWith('x-forwarded')),
      [],
    );
    await stream.close();
  });

  it('opens a stream with ?access_token= through nginx and keeps the token out of its logs', async () => {
    const pair = pairs[12]!;
    const token = await mintUserToken(pair.userId);
    const client = await openStream(system.gateway.url, pair, {
      auth: { token, via: 'query' },
      headers: { 'user-agent': 'query-token' },
    });
    await client.close();
    const entry = await logEntry(system.gateway, 'query-token');
    assert.equal(entry.target, `${streamPath(pair)}?access_token=[redacted]`);
    assert.equal(entry.status, 200);
    const logs = readFileSync(system.gateway.accessLog, 'utf8') + readFileSync(system.gateway.errorLog, 'utf8');
    assert.ok(!logs.includes(token) && !logs.includes(token.split('.')[2]!), 'the token is in a log');
  });

  it('passes SSE through unbuffered: every event reaches the client as soon as the pod writes it', async (t) => {
    const client = await openStream(system.gateway.url, pairs[2]!);
    const ages: number[] = [];
    let counted = 0;
    await client.waitUntil(
      () => {
        if (client.messages > counted && client.lastMessage) {
          counted = client.messages;
          ages.push(performance.timeOrigin + performance.now() - client.lastMessage.timestamp);
        }
        return ages.length >= 8;
      },
      10_000,
      '8 messages',
    );
    await client.close();
    t.diagnostic(`age of 64-byte events on arrival through nginx: max ${Math.max(...ages).toFixed(1)} ms`);
    // Buffered, 64-byte events would wait for a 16 KiB buffer to fill: over a minute at 4/s.
    for (const age of ages) assert.ok(age < 250, `an event arrived ${age.toFixed(0)} ms after it was written`);
    assert.equal(client.gaps, 0);
  });

  it('answers every request with 200 behind a replica that is down from the start (never 502 for every other one)', async (t) => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const gateway = await startGateway(system.main.url, [dead, system.streams[0]!.url]);
    t.after(() => gateway.close());
    for (let i = 0; i < 20; i++) {
      const response = await rawGet(gateway.url, '/', { 'user-agent': `failover-${i}` });
      assert.equal(response.status, 200, `request ${i}`);
    }
    for (const pair of pairs.slice(5, 8)) await (await openStream(gateway.url, pair)).close();
    // The dead replica is tried once, then left alone for fail_timeout.
    const retried = readAccessLog(gateway.accessLog).filter((entry) => entry.upstreams.length > 1);
    assert.equal(retried.length, 1, retried.map((entry) => entry.line).join('\n'));
    assert.deepEqual(retried[0]!.upstreamStatuses, ['502', '200']);
  });

  it('makes the pod drop events: nginx holds a bounded amount in its sockets and nothing on disk', async (t) => {
    // A replica of its own at 20 × 64 KiB a second (≈ 10 Mbit/s), so the buffers on the way fill within seconds.
    const pod = await startApp('stream', {
      ADMIN_TOKEN,
      BASE_URL: system.base.url,
      POD_NAME: 'stream-fast',
      STREAM_EVENTS_PER_SECOND: '20',
      STREAM_EVENT_BYTES: '65536',
    });
    const gateway = await startGateway(system.main.url, [pod.url]);
    t.after(async () => {
      await gateway.close();
      await pod.stop();
    });
    const client = await openStream(gateway.url, pairs[4]!);
    await client.waitUntil(() => client.messages >= 20, 10_000, '20 messages');
    client.stopReading();
    // Unbuffered, the backlog reaches the pod, which drops; a buffering nginx would take it all.
    await eventually(
      async () => {
        assert.ok((await Metrics.scrape(pod.url)).value('stream_events_dropped_total') > 0, 'the pod drops');
      },
      30_000,
      250,
    );
    const upstream = tcpSockets(['dport', '=', `:${pod.port}`]).filter((s) => s.local !== s.peer);
    const toClient = tcpSockets(['sport', '=', `:${new URL(gateway.url).port}`, 'dport', '=', `:${client.localPort}`]);
    assert.equal(toClient.length, 1);
    const held = upstream.reduce((sum, s) => sum + s.rmemAlloc, 0) + toClient[0]!.wmemQueued;
    t.diagnostic(
      `nginx holds ${held} bytes for the stalled reader: upstream receive queue ${upstream
        .map((s) => `${s.rmemAlloc} (rcvbuf ${s.rcvbuf})`)
        .join(' + ')}, client send queue ${toClient[0]!.wmemQueued} (sndbuf ${toClient[0]!.sndbuf})`,
    );
    assert.ok(toClient[0]!.sndbuf <= 64 * 1024, `client sndbuf ${toClient[0]!.sndbuf}: listen sndbuf= is not applied`);
    assert.ok(held < 2 * 1024 * 1024, `nginx holds ${held} bytes`);
    assert.deepEqual(readdirSync(join(gateway.dir, 'temp/proxy')), [], 'nothing buffered to disk');
    await client.close();
  });

  // Last: it kills a replica.
  it('ends a stream for the client at once when its pod dies, then skips the dead pod', async (t) => {
    const pair = pairs[3]!;
    const client = await openStream(system.gateway.url, pair);
    const pod = helloOf(client).pod;
    const victim = system.streams.find((_, i) => `stream-${i + 1}` === pod)!;
    await client.waitUntil(() => client.messages >= 2, 5000, 'two messages');
    const killed = performance.now();
    await victim.stop('SIGKILL');
    await client.waitForEnd(5000);
    const endedAfterMs = client.endedAt! - killed;
    t.diagnostic(`stream ended for the client ${endedAfterMs.toFixed(1)} ms after SIGKILL of ${pod}`);
    assert.ok(endedAfterMs < 1000, `the client learnt of the death after ${endedAfterMs.toFixed(0)} ms`);

    // Every request still answers: nginx retries the refused connect on the other replica.
    const statuses = new Map<number, number>();
    for (let i = 0; i < 30; i++) {
      const response = await rawGet(system.gateway.url, i % 2 ? '/' : `/index/${pair.userId}/${pair.profileId}`);
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
    assert.deepEqual([...statuses], [[200, 30]]);
    for (const fresh of pairs.slice(8, 12)) {
      const stream = await openStream(system.gateway.url, fresh);
      assert.equal(helloOf(stream).pod, pod === 'stream-1' ? 'stream-2' : 'stream-1');
      await stream.close();
    }
    // The dead pod's lease runs out and the pair streams again, from the survivor.
    const again = await eventually(async () => {
      const reopened = await SseClient.open(system.gateway.url, streamPath(pair));
      if (!reopened.streaming) {
        await reopened.close();
        assert.fail(`reopening the pair answered ${reopened.status}`);
      }
      return reopened;
    }, 10_000);
    await again.waitForEvent('hello');
    assert.equal(helloOf(again).pod, pod === 'stream-1' ? 'stream-2' : 'stream-1');
    await again.close();
  });
});

describe('the nginx gateway as the apps see it', () => {
  let echo: Server;
  let gateway: Gateway;
  const seen: Array<{ url: string; headers: Record<string, string | string[] | undefined> }> = [];

  before(async () => {
    // An upstream that answers with what it received, to see the request exactly as an app does.
    echo = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(200, {
        'content-type': 'application/json',
        connection: 'keep-alive, x-hop-response',
        'keep-alive': 'timeout=5',
        'x-hop-response': 'named in Connection',
      });
      res.end(JSON.stringify({ url: req.url }));
    });
    const port = await freePort();
    await new Promise<void>((done) => echo.listen(port, '127.0.0.1', done));
    gateway = await startGateway(`http://127.0.0.1:${port}`, [`http://127.0.0.1:${port}`]);
  });
  after(async () => {
    await gateway?.close();
    await new Promise((done) => echo?.close(done));
  });

  it('sets X-Forwarded-* and X-Real-IP on the request from the connection, ignoring what the client claims', async () => {
    const port = new URL(gateway.url).port;
    const response = await rawGet(gateway.url, '/main/users', {
      'x-forwarded-for': '203.0.113.7',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'https',
      'x-real-ip': '203.0.113.7',
    });
    assert.equal(response.status, 200);
    const { headers } = seen.at(-1)!;
    assert.equal(headers['x-forwarded-for'], '127.0.0.1');
    assert.equal(headers['x-real-ip'], '127.0.0.1');
    assert.equal(headers['x-forwarded-host'], '127.0.0.1');
    assert.equal(headers['x-forwarded-port'], port);
    assert.equal(headers['x-forwarded-proto'], 'http');
    assert.match(String(headers['x-request-id']), /^[0-9a-f]{32}$/);
    assert.equal(headers.host, `127.0.0.1:${port}`, 'the Host the client used');
    assert.deepEqual(
      Object.keys(response.headers).filter((name) => name.startsWith('x-forwarded') || name === 'x-real-ip'),
      [],
    );
  });

  it('drops the standard hop-by-hop headers in both directions, as nginx does', async () => {
    const response = await rawGet(gateway.url, '/main/users', {
      connection: 'keep-alive, x-hop-request',
      'keep-alive': 'timeout=5',
      te: 'trailers',
      upgrade: 'h2c',
      'x-hop-request': 'named in Connection',
    });
    const { headers } = seen.at(-1)!;
    for (const name of ['connection', 'keep-alive', 'te', 'upgrade']) {
      assert.equal(headers[name], undefined, `the app saw ${name}: ${headers[name]}`);
    }
    // nginx does not read the list in Connection: such headers pass (ingress-nginx does the same).
    assert.equal(headers['x-hop-request'], 'named in Connection');
    assert.equal(response.headers['keep-alive'], undefined, "the app's Keep-Alive stays between nginx and it");
    assert.doesNotMatch(String(response.headers.connection), /x-hop-response/);
    assert.equal(response.headers['x-hop-response'], 'named in Connection');
  });

  it('passes ?access_token= to the app untouched but never writes it to its logs', async () => {
    const secrets = Array.from({ length: 9 }, () => `SECRET${randomUUID().replaceAll('-', '')}`);
    const targets = [
      `/stream/${randomUUID()}/${randomUUID()}?access_token=${secrets[0]}`,
      `/main/users?limit=1&access_token=${secrets[1]}&page=abc`,
      `/?ACCESS_TOKEN=${secrets[2]}`,
      `/?access_token=${secrets[3]}&x=1&access_token=${secrets[4]}`,
      `/?access%5Ftoken=${secrets[5]}`,
      `/index/a/b?a=1&access_token=${secrets[6]}`,
      `/?a=1;access_token=${secrets[7]}`,
      `/index/a/b;access_token=${secrets[8]}?x=1`,
    ];
    for (const target of targets) {
      assert.equal((await rawGet(gateway.url, target, { 'user-agent': 'token-check' })).status, 200, target);
      assert.equal(seen.at(-1)!.url, target, 'the app gets the query as the client sent it');
    }
    const logged = await eventually(async () => {
      const entries = readAccessLog(gateway.accessLog).filter((entry) => entry.userAgent === 'token-check');
      assert.equal(entries.length, targets.length);
      return entries.map((entry) => entry.target);
    }, 2000);
    const logs = readFileSync(gateway.accessLog, 'utf8') + readFileSync(gateway.errorLog, 'utf8');
    for (const secret of secrets) assert.ok(!logs.includes(secret), `${secret} is in a log`);
    assert.deepEqual(logged, [
      `${targets[0]!.split('?')[0]}?access_token=[redacted]`,
      '/main/users?limit=1&access_token=[redacted]&page=abc',
      '/?access_token=[redacted]',
      '/?[redacted]',
      '/?[redacted]',
      '/index/a/b?a=1&access_token=[redacted]',
      '/?a=1;access_token=[redacted]',
      '/index/a/b;[redacted]?x=1',
    ]);
  });

  it('answers what it refuses itself in the catalog JSON, never an HTML page: no Host, 403, 405, 413, 414, 431, 501', async () => {
    const host = 'Host: gateway\r\nConnection: close\r\n';
    const cases: Array<[request: string, status: number]> = [
      ['GET / HTTP/1.0\r\n\r\n', 400],
      ['HELLO\r\n\r\n', 400],
      [`GET /metrics HTTP/1.1\r\n${host}\r\n`, 403],
      [`GET /health/ready HTTP/1.0\r\n${host}\r\n`, 403],
      [`TRACE / HTTP/1.1\r\n${host}\r\n`, 405],
      [`GET /_kubescaler/error/400 HTTP/1.1\r\n${host}\r\n`, 404],
      [`POST /main/testdata HTTP/1.1\r\n${host}Content-Type: application/json\r\nContent-Length: 2000000\r\n\r\n`, 413],
      [`GET /${'a'.repeat(10_000)} HTTP/1.1\r\n${host}\r\n`, 414],
      [`GET / HTTP/1.1\r\n${host}Cookie: ${'c'.repeat(20_000)}\r\n\r\n`, 431],
      [`GET / HTTP/1.1\r\n${host}Transfer-Encoding: gzip\r\n\r\n`, 501],
    ];
    const before = seen.length;
    for (const [raw, status] of cases) {
      const label = raw.slice(0, 40);
      const res = await rawExchange(gateway.url, raw);
      assert.equal(res.status, status, `${label}: ${res.head}`);
      assert.match(headerOf(res.head, 'content-type') ?? '', /^application\/json/, label);
      const body = JSON.parse(res.body) as { statusCode: number; code: string; message: string };
      assert.equal(body.statusCode, status, label);
      assert.ok(
        isErrorCode(body.code) && statusOf(body.code) === status,
        `${label}: ${body.code} is the catalog's code for ${status}`,
      );
      assert.equal(typeof body.message, 'string');
    }
    assert.equal(seen.length, before, 'none of them reached the app');
  });

  it('answers an upstream that is down 502 BAD_GATEWAY in the catalog JSON', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const lonely = await startGateway(dead, [dead]);
    try {
      const res = await rawExchange(
        lonely.url,
        'GET /main/users HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n\r\n',
      );
      assert.equal(res.status, 502, res.head);
      assert.equal(JSON.parse(res.body).code, 'BAD_GATEWAY');
    } finally {
      await lonely.close();
    }
  });
});
