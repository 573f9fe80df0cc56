// `npm run bench -- sse-scanner`: how fast the one SSE/HTTP reader (test/support/sse-scanner.ts)
// reads a stream as the stream tier writes it: chunked, each event a prefix, a 16 KiB payload and
// a suffix chunk, a heartbeat now and then, fed 64 KiB at a time as the load generator's reads are.
// Baseline, measured in the same run on the same bytes: the least such a reader does, the chunked
// framing and one native search for LF a line (LF-only line ends, as the reader before it took).
import { SseScanner } from '../support/sse-scanner.js';
import { log, scale } from '../load/bench-kit.js';

const { EVENTS, ROUNDS, ROUND_MS } = scale({
  full: { EVENTS: 2000, ROUNDS: 7, ROUND_MS: 1000 },
  smoke: { EVENTS: 200, ROUNDS: 3, ROUND_MS: 200 },
});
const PAYLOAD_BYTES = 16 * 1024;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const READ_BYTES = 64 * 1024;

const chunk = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
const payload = 'x'.repeat(PAYLOAD_BYTES);
const stream = Buffer.from(
  'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n' +
    chunk('retry: 1000\n\n') +
    chunk('event: hello\ndata: {"pod":"p","fencingToken":3,"lockTtlMs":15000}\n\n') +
    Array.from(
      { length: EVENTS },
      (_, i) =>
        chunk(`id: ${i + 1}\ndata: {"host":"p","seq":${i + 1},"timestamp":${1_700_000_000_000 + i},"payload":"`) +
        chunk(payload) +
        chunk('"}\n\n') +
        (i % 60 === 59 ? chunk(': heartbeat\n\n') : ''),
    ).join('') +
    '0\r\n\r\n',
  'latin1',
);

interface Reader {
  feed(buffer: Buffer, start: number, end: number): void;
  /** Events with data dispatched. */
  readonly events: number;
}

class Counting extends SseScanner implements Reader {
  events = 0;
  protected onHead(): void {}
  protected onMessage(): void {
    this.events++;
  }
  protected onNamedEvent(): void {
    this.events++;
  }
  protected onComment(): void {}
  protected onEnd(): void {}
  protected onProtocolError(what: string): void {
    throw new Error(what);
  }
}

/** The baseline: chunked framing, and LF the only line end, found by one native search a line. */
class LfOnly implements Reader {
  events = 0;
  private inHead = true;
  private chunkLeft = -1;
  private size = 0;
  private lineStart = true;
  private hasData = false;

  feed(buffer: Buffer, start: number, end: number): void {
    let pos = start;
    if (this.inHead) {
      pos = buffer.indexOf('\r\n\r\n', start, 'latin1') + 4;
      this.inHead = false;
    }
    while (pos < end) {
      if (this.chunkLeft < 0) {
        const byte = buffer[pos++]!;
        if (byte === 0x0a) this.chunkLeft = this.size;
        else if (byte !== 0x0d) this.size = this.size * 16 + HEX.indexOf(byte | 0x20);
      } else if (this.chunkLeft === 0) {
        pos = Math.min(end, pos + 1);
        if (buffer[pos - 1] === 0x0a) [this.chunkLeft, this.size] = [-1, 0];
      } else {
        const stop = Math.min(end, pos + this.chunkLeft);
        this.chunkLeft -= stop - pos;
        pos = this.lines(buffer, pos, stop);
      }
    }
  }

  private lines(buffer: Buffer, start: number, end: number): number {
    let pos = start;
    while (pos < end) {
      if (this.lineStart && buffer[pos] === 0x0a) {
        if (this.hasData) this.events++;
        this.hasData = false;
      } else if (this.lineStart && buffer[pos] === 0x64) {
        this.hasData = true;
      }
      const lf = buffer.indexOf(0x0a, pos);
      this.lineStart = lf !== -1 && lf < end;
      pos = this.lineStart ? lf + 1 : end;
    }
    return end;
  }
}

/**
 * Reads the whole stream through `reader`, READ_BYTES at a time. The reads are views of the one
 * buffer holding the stream (no copy is timed), so, as in a reused read buffer, bytes follow `end`.
 */
function readAll(reader: Reader): number {
  for (let at = 0; at < stream.length; at += READ_BYTES)
    reader.feed(stream, at, Math.min(stream.length, at + READ_BYTES));
  return reader.events;
}

/** GB/s of `make()`'s readers over rounds of ROUND_MS, median. */
function gigabytesPerSecond(make: () => Reader, rounds: number[]): void {
  let bytes = 0;
  const started = performance.now();
  while (performance.now() - started < ROUND_MS) {
    // The events and the hello event.
    const events = readAll(make());
    if (events !== EVENTS + 1) throw new Error(`${events} events read, ${EVENTS + 1} sent`);
    bytes += stream.length;
  }
  rounds.push(bytes / ((performance.now() - started) / 1000) / 1e9);
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const ours: number[] = [];
const baseline: number[] = [];
// Warm-up, then the two take turns round by round, so a busy moment of the box lands on both.
gigabytesPerSecond(() => new Counting(), []);
gigabytesPerSecond(() => new LfOnly(), []);
for (let round = 0; round < ROUNDS; round++) {
  gigabytesPerSecond(() => new Counting(), ours);
  gigabytesPerSecond(() => new LfOnly(), baseline);
}
log(
  `SSE reader, ${PAYLOAD_BYTES / 1024} KiB payloads, ${(stream.length / 1e6).toFixed(1)} MB a pass: ` +
    `SseScanner ${median(ours).toFixed(2)} GB/s, LF-only baseline ${median(baseline).toFixed(2)} GB/s ` +
    `(rounds: ${ours.map((v) => v.toFixed(2)).join(' ')} / ${baseline.map((v) => v.toFixed(2)).join(' ')})`,
);
