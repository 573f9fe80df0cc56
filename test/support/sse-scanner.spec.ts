import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseScanner } from './sse-scanner.js';

/** Records what the scanner reports. */
class Recorder extends SseScanner {
  constructor(options: { captureDataBytes?: number; maxRefusalBytes?: number } = {}) {
    super(options);
  }
  readonly seen: string[] = [];
  heads: [number, boolean][] = [];
  ended: string | undefined;
  protected onHead(status: number, isSse: boolean): void {
    this.heads.push([status, isSse]);
  }
  protected onMessage(id: number, timestamp: number): void {
    this.seen.push(`message ${id} ${timestamp}`);
  }
  protected onNamedEvent(name: string): void {
    this.seen.push(`event ${name}`);
  }
  protected onComment(): void {
    this.seen.push('comment');
  }
  protected onEnd(refusalBody: string): void {
    this.ended = refusalBody;
  }
  protected onProtocolError(what: string): void {
    this.seen.push(`error ${what}`);
  }
  protected override onRetry(ms: number): void {
    this.seen.push(`retry ${ms}`);
  }
  protected override onDataLine(captured: Buffer, length: number): void {
    this.seen.push(`data ${captured.toString('utf8')} (${length}) id ${this.eventIdText}`);
  }
}

/** Rejects the message with id 13, as a caller checking the stream's framing does. */
class Rejecter extends Recorder {
  protected override onMessage(id: number, timestamp: number): void {
    super.onMessage(id, timestamp);
    if (id === 13) this.fail('id 13');
  }
}

const HEAD = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\n\r\n';
const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
const payload = 'x'.repeat(70_000);
/** As the stream writes it: a prefix, the payload and a suffix, each its own chunk. */
const STREAM =
  HEAD +
  chunk('retry: 1000\n\n') +
  chunk('event: hello\ndata: {"pod":"p","fencingToken":3,"lockTtlMs":15000}\n\n') +
  chunk('id: 1\ndata: {"host":"p","seq":1,"timestamp":1700000000123,"payload":"') +
  chunk(payload) +
  chunk('"}\n\n') +
  chunk(': heartbeat\n\n') +
  chunk('id: 3\ndata: {"host":"p","seq":3,"timestamp":1700000000456,"payload":"ab"}\n\n') +
  '0\r\n\r\n';
const EXPECTED = ['retry 1000', 'event hello', 'message 1 1700000000123', 'comment', 'message 3 1700000000456'];

function feedInPieces(sut: SseScanner, text: string, piece: number): void {
  const bytes = Buffer.from(text, 'latin1');
  for (let at = 0; at < bytes.length; at += piece) sut.feed(bytes, at, Math.min(bytes.length, at + piece));
}

describe(SseScanner.name, () => {
  it('reports the named events, message ids and timestamps of a chunked stream', () => {
    const sut = new Recorder();
    feedInPieces(sut, STREAM, 1 << 20);
    assert.deepEqual(sut.heads, [[200, true]]);
    assert.deepEqual(sut.seen, EXPECTED);
    assert.equal(sut.ended, '');
  });

  it('gives the same answer whatever the read boundaries', () => {
    for (const piece of [1, 2, 3, 7, 13, 64, 1000, 4096]) {
      const sut = new Recorder();
      feedInPieces(sut, STREAM, piece);
      assert.deepEqual(sut.seen, EXPECTED, `reads of ${piece} bytes`);
    }
  });

  it('reads Nest-style events (event, id, then data) of a body delimited by the close', () => {
    const sut = new Recorder();
    feedInPieces(
      sut,
      'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n\n' +
        'event: hello\nid: 1\nretry: 1000\ndata: {"pod":"b"}\n\n' +
        'id: 1\ndata: {"host":"b","seq":1,"timestamp":42,"payload":"zz"}\n\n',
      5,
    );
    sut.connectionClosed();
    assert.deepEqual(sut.seen, ['retry 1000', 'event hello', 'message 1 42']);
    assert.equal(sut.ended, '');
  });

  it('keeps the JSON body of a refusal', () => {
    const sut = new Recorder();
    const body = '{"statusCode":409,"code":"PROFILE_IN_USE","message":"busy"}';
    feedInPieces(
      sut,
      `HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
      9,
    );
    assert.deepEqual(sut.heads, [[409, false]]);
    assert.equal(sut.ended, body);
    assert.deepEqual(sut.seen, []);
  });

  it('reports bytes that are not HTTP', () => {
    const sut = new Recorder();
    feedInPieces(sut, 'SSH-2.0-OpenSSH\r\n\r\n', 100);
    assert.equal(sut.seen.length, 1);
    assert.match(sut.seen[0]!, /^error not an HTTP response/);
  });

  it('records the headers with their names lower-cased', () => {
    const sut = new Recorder();
    feedInPieces(sut, 'HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nX-Pod:  pod-a \r\n\r\n', 4);
    assert.deepEqual(sut.headers, { 'content-type': 'text/event-stream', 'x-pod': 'pod-a' });
    assert.deepEqual(sut.heads, [[200, true]]);
  });

  it('ends lines at CRLF, at a lone CR and at LF alike, whatever the read boundaries', () => {
    const body =
      'event: hello\r\ndata: {}\r\n\r\n' +
      'id: 4\rdata: {"timestamp":7}\r\r' +
      ': ping\r\n' +
      'id: 5\ndata: {"timestamp":8}\n\n';
    for (const piece of [1, 2, 5, 1000]) {
      const sut = new Recorder();
      feedInPieces(sut, `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n${body}`, piece);
      assert.deepEqual(sut.seen, ['event hello', 'message 4 7', 'comment', 'message 5 8'], `reads of ${piece} bytes`);
    }
  });

  it('reports a valid retry and ignores one that is not a number', () => {
    const sut = new Recorder();
    feedInPieces(sut, `${HEAD}${chunk('retry: 1500\n\nretry: 2s\n\nretry:\n\n')}0\r\n\r\n`, 3);
    assert.deepEqual(sut.seen, ['retry 1500']);
  });

  it('takes a field only by its whole name', () => {
    const sut = new Recorder();
    const body = 'identity: 9\ndatum: x\neventual: lock-lost\nid: 2\ndata: {"timestamp":5}\n\ndataset: {}\n\n';
    feedInPieces(sut, `${HEAD}${chunk(body)}0\r\n\r\n`, 1);
    assert.deepEqual(sut.seen, ['message 2 5']);
  });

  it('hands over the first bytes of every data line and the id as written when capturing', () => {
    const sut = new Recorder({ captureDataBytes: 8 });
    const body = 'id: 007\ndata: {"timestamp":1}\ndata\n\nevent: hello\ndata: short\n\n';
    feedInPieces(sut, `${HEAD}${chunk(body)}0\r\n\r\n`, 2);
    assert.deepEqual(sut.seen, [
      'data {"timest (15) id 007',
      'data  (0) id 007',
      // A captured stream is not searched for timestamps.
      'message 7 NaN',
      'data short (5) id undefined',
      'event hello',
    ]);
  });

  it('copies what it keeps, so the caller may reuse its read buffer', () => {
    const sut = new Recorder({ captureDataBytes: 64 });
    const head = Buffer.from('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\nid: 1\ndata: abc');
    const shared = Buffer.alloc(head.length);
    head.copy(shared);
    sut.feed(shared, 0, shared.length);
    shared.fill(0x7a);
    const rest = Buffer.from('def\n\n');
    rest.copy(shared);
    sut.feed(shared, 0, rest.length);
    assert.deepEqual(sut.seen, ['data abcdef (6) id 1', 'message 1 NaN']);
  });

  it('decodes a refusal body whose characters are split between reads', () => {
    const sut = new Recorder();
    const body = '{"message":"überfüllt"}';
    const bytes = Buffer.byteLength(body);
    feedInPieces(sut, Buffer.from(`HTTP/1.1 503 x\r\ncontent-length: ${bytes}\r\n\r\n${body}`).toString('latin1'), 1);
    assert.deepEqual(sut.heads, [[503, false]]);
    assert.equal(sut.ended, body);
  });

  it('keeps a refusal up to its limit and ends a body delimited by the close', () => {
    const sut = new Recorder({ maxRefusalBytes: 5 });
    feedInPieces(sut, 'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\n\r\n<html>gone</html>', 4);
    assert.equal(sut.ended, undefined);
    sut.connectionClosed();
    assert.equal(sut.ended, '<html');
    assert.equal(sut.bodyBytes, 17);
  });

  it('ends a response whose content-length is zero with its head', () => {
    const sut = new Recorder();
    feedInPieces(sut, 'HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n', 100);
    assert.deepEqual(sut.heads, [[204, false]]);
    assert.equal(sut.ended, '');
  });

  it('reports a content-length that is not a number', () => {
    const sut = new Recorder();
    feedInPieces(sut, 'HTTP/1.1 409 Conflict\r\ncontent-length: ten\r\n\r\n0123456789', 100);
    assert.deepEqual(sut.seen, ['error bad content-length "ten"']);
    assert.equal(sut.ended, undefined);
  });

  it('reports nothing more once the caller has failed the stream', () => {
    const sut = new Rejecter();
    const body = 'id: 12\ndata: {}\n\nid: 13\ndata: {}\n\nid: 14\ndata: {}\n\n';
    feedInPieces(sut, `${HEAD}${chunk(body)}${chunk(': heartbeat\n\n')}0\r\n\r\n`, 1000);
    assert.deepEqual(sut.seen, ['message 12 NaN', 'message 13 NaN', 'error id 13']);
    assert.equal(sut.ended, undefined);
  });
});
