import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SseScanner } from './sse-scanner.js';

/** Records what the scanner reports. */
class Recorder extends SseScanner {
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
const EXPECTED = ['event hello', 'message 1 1700000000123', 'comment', 'message 3 1700000000456'];

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
    sut.closed();
    assert.deepEqual(sut.seen, ['event hello', 'message 1 42']);
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
});
