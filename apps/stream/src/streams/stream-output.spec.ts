import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, get, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type OpenedStream, openStream } from './stream-output.js';

const HEADERS = { 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' };
/** The listeners Node's HTTP server keeps its per-connection state in. */
const SERVER_LISTENER_NAMES = [
  'bound socketOnData',
  'bound socketOnEnd',
  'bound socketOnClose',
  'bound socketOnDrain',
  'socketOnError',
  'socketOnTimeout',
  'onSocketResume',
  'onSocketPause',
  'onServerResponseClose',
];

/** A server whose every request (but `/plain`) opens a stream one turn after it arrives, as after the stream's own I/O. */
async function streamingServer(): Promise<{ server: Server; port: number; opened: Promise<OpenedStream> }> {
  let resolve!: (opened: OpenedStream) => void;
  const opened = new Promise<OpenedStream>((done) => (resolve = done));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/plain') {
      res.end('plain');
      return;
    }
    res.setHeader('X-Request-Id', 'r1');
    setImmediate(() => resolve(openStream(req, res, HEADERS)));
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return { server, port: (server.address() as AddressInfo).port, opened };
}

/** A full collection, several times over with a turn of the event loop between (deferred closes run first). */
async function collectGarbage(): Promise<void> {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  for (let i = 0; i < 4; i++) {
    await new Promise((done) => setImmediate(done));
    gc();
  }
}

const listenerNames = (socket: Socket) =>
  socket.eventNames().flatMap((event) => socket.listeners(event).map((listener) => listener.name));

describe(openStream.name, () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
    }
  });

  it("takes the socket from Node's HTTP server: the client reads the head, the events, and the end with the connection", async () => {
    const { server, port, opened } = await streamingServer();
    servers.push(server);
    const client = await new Promise<IncomingMessage>((done) => get({ port, host: '127.0.0.1', path: '/s' }, done));
    const stream = await opened;
    assert.equal(stream.detached, true);
    assert.equal(stream.output, stream.socket);
    const socket = stream.socket as Socket & { parser?: unknown; _httpMessage?: unknown };
    assert.equal(socket.parser, null, 'the parser is freed');
    assert.equal(socket._httpMessage, null, 'the response is detached');
    for (const name of SERVER_LISTENER_NAMES) assert.ok(!listenerNames(socket).includes(name), `${name} is off`);

    assert.equal(client.statusCode, 200);
    assert.equal(client.headers['content-type'], 'text/event-stream; charset=utf-8');
    assert.equal(client.headers['x-request-id'], 'r1', 'headers set before the head are kept');
    assert.equal(client.headers.connection, 'close', 'the body ends with the connection');
    assert.equal(client.headers['transfer-encoding'], undefined, 'no chunked framing');
    assert.ok(!Number.isNaN(Date.parse(client.headers.date!)));
    let body = '';
    client.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.output.write(Buffer.from('data: 1\n\n'));
    stream.output.write(Buffer.from('data: 2\n\n'));
    stream.output.end();
    await once(client, 'end');
    assert.equal(body, 'data: 1\n\ndata: 2\n\n');
  });

  it('keeps neither the request nor the response: both are collected while the stream goes on', async () => {
    let kept: { request: WeakRef<IncomingMessage>; response: WeakRef<ServerResponse> } | undefined;
    let resolve!: (opened: OpenedStream) => void;
    const opened = new Promise<OpenedStream>((done) => (resolve = done));
    const server = createServer((req, res) => {
      kept = { request: new WeakRef(req), response: new WeakRef(res) };
      setImmediate(() => resolve(openStream(req, res, HEADERS)));
    });
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const port = (server.address() as AddressInfo).port;
    const client = await new Promise<IncomingMessage>((done) => get({ port, host: '127.0.0.1', path: '/s' }, done));
    const stream = await opened;
    await collectGarbage();
    assert.equal(kept!.request.deref(), undefined, 'the request was collected');
    assert.equal(kept!.response.deref(), undefined, 'the response was collected');
    const first = once(client, 'data');
    stream.output.write(Buffer.from('data: still here\n\n'));
    assert.equal(String((await first)[0]), 'data: still here\n\n');
    // The server no longer knows the socket: closing it waits for the stream's end.
    stream.output.destroy();
  });

  it('notices a client that leaves (close), and the server serves other connections and closes as before', async () => {
    const { server, port, opened } = await streamingServer();
    const client = await new Promise<IncomingMessage>((done) => get({ port, host: '127.0.0.1', path: '/s' }, done));
    const stream = await opened;
    const plain = await new Promise<IncomingMessage>((done) => get({ port, host: '127.0.0.1', path: '/plain' }, done));
    plain.resume();
    assert.equal(plain.statusCode, 200);
    const closed = new Promise<void>((done) => stream.output.once('close', done));
    client.destroy();
    await closed;
    assert.equal(stream.output.destroyed, true);
    // Nothing of the stream is left for the server to wait for.
    server.closeIdleConnections();
    await new Promise((done) => server.close(done));
  });

  it('ends a socket whose client half-closes: a stream has no use for a half-open connection', async () => {
    const { server, port, opened } = await streamingServer();
    servers.push(server);
    const raw = await new Promise<Socket>((done) => {
      const req = request({ port, host: '127.0.0.1', path: '/s' });
      req.on('socket', (socket: Socket) => done(socket));
      req.end();
    });
    const stream = await opened;
    const closed = new Promise<void>((done) => stream.output.once('close', done));
    raw.end();
    await closed;
  });

  it('writes through the response as usual where the socket cannot be taken (a request body still coming)', async () => {
    let resolve!: (opened: OpenedStream) => void;
    const opened = new Promise<OpenedStream>((done) => (resolve = done));
    const server = createServer((req, res) => setImmediate(() => resolve(openStream(req, res, HEADERS))));
    servers.push(server);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const req = request({
      port: (server.address() as AddressInfo).port,
      host: '127.0.0.1',
      method: 'POST',
      path: '/s',
    });
    req.write('part of a body');
    const client = await new Promise<IncomingMessage>((done) => {
      req.on('response', done);
      req.flushHeaders();
    });
    const stream = await opened;
    assert.equal(stream.detached, false);
    assert.notEqual(stream.output, stream.socket);
    assert.equal(client.headers['transfer-encoding'], 'chunked');
    let body = '';
    client.on('data', (chunk: Buffer) => (body += chunk.toString()));
    stream.output.write(Buffer.from('data: 1\n\n'));
    stream.output.end();
    await once(client, 'end');
    assert.equal(body, 'data: 1\n\n');
    req.destroy();
  });
});
