import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { SseClient } from './sse-client.js';

const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
const message = (seq: number, payload = 'ab') =>
  chunk(
    `id: ${seq}\ndata: {"host":"pod-a","seq":${seq},"timestamp":${1_700_000_000_000 + seq},"payload":"${payload}"}\n\n`,
  );
const STREAM_HEAD =
  'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nX-Pod: pod-a\r\n\r\n';

/**
 * A TCP server that answers each connection with the raw bytes the test sets, written in small
 * pieces (so every read boundary is crossed), and keeps the connection open afterwards.
 */
class RawServer {
  reply = '';
  readonly requests: string[] = [];
  private readonly server: Server = createServer((socket) => this.answer(socket));
  private readonly sockets = new Set<Socket>();

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const address = this.server.address() as { port: number };
    return `http://127.0.0.1:${address.port}`;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    await once(this.server, 'close');
  }

  private answer(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    // A client that drops the connection mid-reply is what some cases test.
    socket.on('error', () => undefined);
    let head = '';
    socket.on('data', async (data) => {
      head += data.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      this.requests.push(head);
      const bytes = Buffer.from(this.reply);
      for (let at = 0; at < bytes.length && !socket.destroyed; at += 7) {
        socket.write(bytes.subarray(at, at + 7));
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
  }
}

describe(SseClient.name, () => {
  const server = new RawServer();
  let url = '';
  before(async () => {
    url = await server.listen();
  });
  after(() => server.close());

  it('counts messages, gaps and disorders and ends with the terminating chunk', async () => {
    server.reply =
      STREAM_HEAD +
      chunk('retry: 1000\n\n') +
      chunk('event: hello\ndata: {"pod":"pod-a"}\n\n') +
      message(1) +
      chunk(': heartbeat\n\n') +
      message(4) +
      message(3) +
      message(5) +
      '0\r\n\r\n';
    const sut = await SseClient.open(url, '/stream/u/p', { auth: 'none', recordMessages: true });
    await sut.waitForEnd();
    assert.equal(sut.status, 200);
    assert.equal(sut.streaming, true);
    assert.equal(sut.headers['x-pod'], 'pod-a');
    assert.equal(sut.retry, 1000);
    assert.equal(sut.comments, 1);
    assert.deepEqual(sut.eventNames(), ['hello', 'message', 'message', 'message', 'message']);
    assert.equal(sut.events[0]!.data, '{"pod":"pod-a"}');
    assert.deepEqual(
      sut.events.map((event) => event.id),
      [undefined, '1', '4', '3', '5'],
    );
    assert.deepEqual([sut.messages, sut.lastSeq, sut.gaps, sut.disorders], [4, 5, 2, 1]);
    assert.deepEqual(sut.lastMessage, { seq: 5, host: 'pod-a', timestamp: 1_700_000_000_005 });
    assert.deepEqual(
      sut.messageLog.map((record) => record.seq),
      [1, 4, 5],
    );
    assert.ok(sut.bodyStart.startsWith('retry: 1000\n\nevent: hello\n'));
    assert.deepEqual(sut.protocolErrors, []);
    assert.equal(sut.isClosed, false, 'the terminating chunk ends the response, not the connection');
    await sut.close();
  });

  it('keeps message data only when asked to, and a long line never without', async () => {
    server.reply = STREAM_HEAD + message(1, 'z'.repeat(5000)) + chunk('event: bye\ndata: one\ndata: two\n\n');
    const plain = await SseClient.open(url, '/stream/u/p', { auth: 'none' });
    await plain.waitForEvent('bye');
    assert.deepEqual(
      plain.events.map((event) => event.data),
      ['', 'one\ntwo'],
    );
    assert.equal(plain.lastSeq, 1);
    await plain.close();
    const keeping = await SseClient.open(url, '/stream/u/p', { auth: 'none', keepMessageData: true });
    await keeping.waitForEvent('bye');
    assert.equal(JSON.parse(keeping.events[0]!.data).payload, 'z'.repeat(5000));
    await keeping.close();
  });

  it('records a message whose id and seq disagree as a protocol error and drops the connection', async () => {
    server.reply = STREAM_HEAD + message(1) + chunk('id: 2\ndata: {"host":"pod-a","seq":9,"timestamp":1,"x":0}\n\n');
    const sut = await SseClient.open(url, '/stream/u/p', { auth: 'none' });
    await sut.waitForClose();
    assert.equal(sut.protocolErrors.length, 1);
    assert.match(sut.protocolErrors[0]!, /^malformed message event: id 2/);
    assert.equal(sut.lastSeq, 1);
  });

  it('reads a refusal as JSON', async () => {
    const body = '{"statusCode":409,"code":"PROFILE_IN_USE","message":"the profile is live elsewhere"}';
    server.reply = `HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`;
    const sut = await SseClient.open(url, '/stream/u/p', { auth: 'none' });
    assert.equal(sut.status, 409);
    assert.equal(sut.streaming, false);
    assert.deepEqual(await sut.json(), JSON.parse(body));
    await sut.close();
  });

  it('sends Last-Event-ID and counts gaps from it, as a browser resuming does', async () => {
    server.reply = STREAM_HEAD + message(13);
    const sut = await SseClient.open(url, '/stream/u/p', { auth: 'none', headers: { 'Last-Event-ID': '10' } });
    await sut.waitUntil(() => sut.messages === 1, 5000, 'the first message');
    assert.match(server.requests.at(-1)!, /\r\nLast-Event-ID: 10\r\n/);
    assert.deepEqual([sut.lastSeq, sut.gaps], [13, 2]);
    await sut.close();
  });
});
