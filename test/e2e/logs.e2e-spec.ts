import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type AppProcess, freePort, jsonLogLines, type LogLine, mintUserToken, startApp } from '@app/testing';
import { openStream, streamSuite } from '../support/stream-stack.js';

const ADMIN_TOKEN = 'logs-admin-token-0123456789abcdef';

/** The request lines of a log: one per finished request. */
const requestLines = (lines: readonly LogLine[]) => lines.filter((line) => typeof line.route === 'string');

describe('logs: one JSON line per event, tokens never in them', () => {
  let main: AppProcess;
  let stream: AppProcess;
  const userId = randomUUID();
  const profileId = randomUUID();
  let token: string;
  let otherToken: string;

  before(async () => {
    // No base behind them: the requests below are answered 401, 404 or 503, and logged either way.
    const env = {
      BASE_URL: `http://127.0.0.1:${await freePort()}`,
      ADMIN_TOKEN,
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'json',
    };
    [main, stream] = await Promise.all([
      startApp('main', { ...env, POD_NAME: 'main-logs' }),
      startApp('stream', { ...env, POD_NAME: 'stream-logs', STREAM_EVENT_BYTES: '256' }),
    ]);
    token = await mintUserToken(userId);
    otherToken = await mintUserToken(randomUUID(), { ttlSeconds: 600 });
  });

  after(async () => {
    await Promise.all([main?.stop(), stream?.stop()]);
  });

  it('logs each request with its id, method, route pattern, status and duration, and answers the id', async () => {
    const given = await fetch(`${main.url}/main/login/${userId}?access_token=${token}`, {
      headers: { 'x-request-id': 'gateway-id-1' },
    });
    assert.equal(given.headers.get('x-request-id'), 'gateway-id-1');
    const made = await fetch(`${stream.url}/stream/${userId}/${profileId}?access_token=${token}&x=1`);
    await made.body?.cancel();
    const madeId = made.headers.get('x-request-id');
    assert.match(madeId ?? '', /^[0-9a-f-]{36}$/, 'a request without an id gets a UUID');
    // A malformed id from outside is not taken over.
    const forged = await fetch(`${main.url}/main/me`, { headers: { 'x-request-id': 'two words\u00e9' } });
    assert.notEqual(forged.headers.get('x-request-id'), 'two words\u00e9');

    await new Promise((done) => setTimeout(done, 200));
    const mainLines = requestLines(jsonLogLines(main.output()));
    const login = mainLines.find((line) => line.reqId === 'gateway-id-1');
    assert.ok(login, main.output());
    // 503 is a refusal the app chose (here: base unreachable), logged as a warning; other 5xx as errors.
    assert.equal(login.level, given.status === 503 ? 'warn' : given.status >= 500 ? 'error' : 'info');
    assert.equal(login.method, 'GET');
    assert.equal(login.route, '/main/login/:userId');
    assert.equal(login.status, given.status);
    assert.equal(typeof login.durationMs, 'number');
    assert.equal(login.app, 'main');
    assert.equal(login.pod, 'main-logs');
    assert.match(login.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const streamLine = requestLines(jsonLogLines(stream.output())).find((line) => line.reqId === madeId);
    assert.ok(streamLine, stream.output());
    assert.equal(streamLine.route, '/stream/:userId/:profileId');
    assert.equal(streamLine.status, made.status);
  });

  it('keeps every transport of a token out of the log, on answered, refused and unknown routes', async () => {
    const secrets = [token, otherToken, ADMIN_TOKEN];
    await fetch(`${main.url}/main/me`, { headers: { authorization: `Bearer ${token}` } });
    await fetch(`${main.url}/main/me`, { headers: { cookie: `kubescaler_session=${otherToken}` } });
    await fetch(`${main.url}/main/login/${userId}?access_token=${otherToken}`);
    await fetch(`${main.url}/no/such/route;access_token=${token}?access_token=${otherToken}`);
    await fetch(`${main.url}/main/testdata`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}x` },
    });
    const refused = await fetch(`${stream.url}/stream/${userId}/${profileId}?access_token=${otherToken}`);
    await refused.body?.cancel();
    await fetch(`${stream.url}/index/${userId}/${profileId};access_token=${token}`);

    await new Promise((done) => setTimeout(done, 200));
    for (const app of [main, stream]) {
      const output = app.output();
      const lines = jsonLogLines(output);
      for (const secret of secrets) assert.ok(!output.includes(secret), `a token in ${app.url}'s log:\n${output}`);
      for (const line of requestLines(lines)) {
        assert.doesNotMatch(String(line.route), /[?#]/, 'a route carries no query');
      }
    }
    const unknown = requestLines(jsonLogLines(main.output())).find((line) => String(line.route).startsWith('/no/such'));
    assert.ok(unknown);
    assert.equal(unknown.route, '/no/such/route;access_token=[redacted]');
    assert.equal(unknown.status, 404);
  });

  it('writes its start-up lines as JSON with a context', () => {
    const lines = jsonLogLines(main.output());
    const listening = lines.find((line) => line.context === 'Bootstrap');
    assert.ok(listening);
    assert.match(listening.msg, /^main listening on http:\/\/127\.0\.0\.1:\d+ \(pod main-logs\)$/);
    for (const line of lines) {
      assert.ok(['fatal', 'error', 'warn', 'info', 'debug', 'trace'].includes(line.level), JSON.stringify(line));
      assert.equal(typeof line.msg, 'string', JSON.stringify(line));
    }
  });

  it('writes one readable line per event with LOG_FORMAT=pretty, as npm start does', async () => {
    const pretty = await startApp('main', {
      BASE_URL: `http://127.0.0.1:${await freePort()}`,
      LOG_LEVEL: 'log',
      LOG_FORMAT: 'pretty',
    });
    try {
      const res = await fetch(`${pretty.url}/main/login/${userId}?access_token=${token}`);
      await new Promise((done) => setTimeout(done, 200));
      const output = pretty.output();
      assert.match(output, /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[Bootstrap\] main listening on /m);
      const line = new RegExp(`^\\[[\\d:.]+\\] (INFO|WARN|ERROR): GET /main/login/:userId ${res.status} \\d+ ms`, 'm');
      assert.match(output, line);
      assert.ok(!output.includes(token), 'a token in the log');
      assert.ok(
        output.split('\n').every((l) => !l.startsWith('{')),
        'no JSON lines',
      );
    } finally {
      await pretty.stop();
    }
  });
});

describe("logs: a live stream's request line, written when it ends", () => {
  const suite = streamSuite('streamlogs', { pairs: 1, env: { LOG_LEVEL: 'log', LOG_FORMAT: 'json' } });

  it('has the shape of every request line, with the stream’s whole life as its duration and why it ended', async () => {
    const client = await openStream(suite.stream.url, suite.pairs[0]!);
    await new Promise((done) => setTimeout(done, 300));
    await client.close();
    const route = '/stream/:userId/:profileId';
    let line: LogLine | undefined;
    for (let i = 0; i < 50 && !line; i++) {
      await new Promise((done) => setTimeout(done, 20));
      line = requestLines(jsonLogLines(suite.stream.output())).find((candidate) => candidate.route === route);
    }
    assert.ok(line, suite.stream.output());
    assert.equal(line.msg, `GET ${route} 200`);
    assert.equal(line.method, 'GET');
    assert.equal(line.status, 200);
    assert.equal(line.level, 'info');
    assert.equal(line.reason, 'client');
    assert.match(String(line.reqId), /^[0-9a-f-]{36}$/);
    assert.ok(typeof line.durationMs === 'number' && line.durationMs >= 300, `durationMs ${String(line.durationMs)}`);
  });
});
