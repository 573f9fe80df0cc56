/**
 * A minimal incremental reader of one HTTP/1.1 response carrying Server-Sent Events, built for
 * holding thousands of streams at once: it keeps a few numbers of state per stream, never copies or
 * decodes a payload, and never JSON-parses a `data:` line. Of a `message` event it only picks out
 * the `id:` (the sequence number) and the digits after `"timestamp":` in the first bytes of the data
 * line; everything after that is skipped with `indexOf('\n')`. Chunked and length-delimited bodies
 * are both handled; a body that is not `text/event-stream` (a refusal) is kept, up to 8 KiB.
 */
export abstract class SseScanner {
  /** HTTP status of the response; 0 until its head has arrived. */
  status = 0;
  /** True once the head said `text/event-stream` with a 2xx status. */
  isSse = false;
  /** Decoded body bytes (after chunked decoding). */
  bodyBytes = 0;

  private headText = '';
  private bodyMode = BODY_PENDING;
  private remaining = 0;
  private chunkState = CHUNK_SIZE;
  private refusalBody = '';
  private done = false;
  // SSE line state
  private lineState = L_START;
  private field = F_OTHER;
  private number = 0;
  private numberValid = false;
  private scanned = 0;
  private match = 0;
  private eventName = '';
  private id = -1;
  private timestamp = Number.NaN;
  private hasData = false;

  /** Feeds the bytes `buffer[start, end)` as they came off the socket. */
  feed(buffer: Buffer, start: number, end: number): void {
    let pos = start;
    if (this.bodyMode === BODY_PENDING) {
      pos = this.readHead(buffer, pos, end);
      if (pos < 0) return;
    }
    if (this.done) return;
    switch (this.bodyMode) {
      case BODY_CHUNKED:
        this.chunked(buffer, pos, end);
        break;
      case BODY_LENGTH: {
        const take = Math.min(this.remaining, end - pos);
        this.body(buffer, pos, pos + take);
        this.remaining -= take;
        if (this.remaining === 0) this.finish();
        break;
      }
      default:
        this.body(buffer, pos, end);
    }
  }

  /** The connection closed: a body delimited by the close ends here. */
  closed(): void {
    if (this.bodyMode === BODY_UNTIL_CLOSE && !this.done) this.finish();
  }

  /** The status line and headers are in; `isSse` tells a stream from a refusal. */
  protected abstract onHead(status: number, isSse: boolean): void;
  /** A `message` event: its `id` (-1 if none) and its data's `timestamp` (NaN if none). */
  protected abstract onMessage(id: number, timestamp: number): void;
  /** An event with a name other than `message` (`hello`, `lock-lost`, `reconnect` …). */
  protected abstract onNamedEvent(name: string): void;
  /** A comment line (`: heartbeat`). */
  protected abstract onComment(): void;
  /** The body ended: the terminating chunk, the last of `content-length` bytes, or the close. */
  protected abstract onEnd(refusalBody: string): void;
  /** Bytes that are not HTTP; the caller should close the connection. */
  protected abstract onProtocolError(what: string): void;

  /** Returns where the body starts in `buffer`, or -1 when the head is not complete yet. */
  private readHead(buffer: Buffer, start: number, end: number): number {
    const before = this.headText.length;
    this.headText += buffer.toString('latin1', start, end);
    const headEnd = this.headText.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      if (this.headText.length > MAX_HEAD) this.fail('response head over 16 KiB');
      return -1;
    }
    const head = this.headText.slice(0, headEnd);
    const bodyStart = start + (headEnd + 4 - before);
    this.headText = '';
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(head);
    if (!statusMatch) {
      this.fail(`not an HTTP response: ${JSON.stringify(head.slice(0, 40))}`);
      return -1;
    }
    this.status = Number(statusMatch[1]);
    const lower = head.toLowerCase();
    const contentType = /\r\ncontent-type:[ \t]*([^\r]*)/.exec(lower)?.[1] ?? '';
    const length = /\r\ncontent-length:[ \t]*(\d+)/.exec(lower);
    if (/\r\ntransfer-encoding:[^\r]*chunked/.test(lower)) {
      this.bodyMode = BODY_CHUNKED;
    } else if (length) {
      this.bodyMode = BODY_LENGTH;
      this.remaining = Number(length[1]);
    } else {
      this.bodyMode = BODY_UNTIL_CLOSE;
    }
    this.isSse = this.status >= 200 && this.status < 300 && contentType.startsWith('text/event-stream');
    this.onHead(this.status, this.isSse);
    if (this.bodyMode === BODY_LENGTH && this.remaining === 0) this.finish();
    return this.done ? -1 : bodyStart;
  }

  private chunked(buffer: Buffer, start: number, end: number): void {
    let pos = start;
    while (pos < end && !this.done) {
      switch (this.chunkState) {
        case CHUNK_SIZE: {
          const byte = buffer[pos++]!;
          const digit = hexValue(byte);
          if (digit >= 0) {
            this.remaining = this.remaining * 16 + digit;
            if (this.remaining > MAX_CHUNK) return this.fail('chunk size over 64 MiB');
          } else if (byte === LF) {
            this.chunkState = this.remaining === 0 ? CHUNK_TRAILER : CHUNK_DATA;
            if (this.remaining === 0) this.finish();
          } else if (byte === SEMICOLON) {
            this.chunkState = CHUNK_EXTENSION;
          } else if (byte !== CR) {
            return this.fail(`bad chunk size byte 0x${byte.toString(16)}`);
          }
          break;
        }
        case CHUNK_EXTENSION: {
          const lf = buffer.indexOf(LF, pos);
          if (lf === -1 || lf >= end) return;
          pos = lf;
          this.chunkState = CHUNK_SIZE;
          break;
        }
        case CHUNK_DATA: {
          const take = Math.min(this.remaining, end - pos);
          this.body(buffer, pos, pos + take);
          pos += take;
          this.remaining -= take;
          if (this.remaining === 0) this.chunkState = CHUNK_DATA_END;
          break;
        }
        case CHUNK_DATA_END: {
          const byte = buffer[pos++]!;
          if (byte === LF) this.chunkState = CHUNK_SIZE;
          else if (byte !== CR) return this.fail('chunk data not followed by CRLF');
          break;
        }
        default:
          return;
      }
    }
  }

  private body(buffer: Buffer, start: number, end: number): void {
    this.bodyBytes += end - start;
    if (!this.isSse) {
      if (this.refusalBody.length < MAX_REFUSAL_BODY) this.refusalBody += buffer.toString('utf8', start, end);
      return;
    }
    let pos = start;
    while (pos < end) {
      switch (this.lineState) {
        case L_START: {
          const byte = buffer[pos++]!;
          if (byte === LF) {
            this.dispatch();
          } else if (byte === CR) {
            // Lines end with LF here; a CR of a CRLF is ignored.
          } else if (byte === COLON) {
            this.onComment();
            this.lineState = L_SKIP;
          } else {
            this.field = byte === 0x64 ? F_DATA : byte === 0x69 ? F_ID : byte === 0x65 ? F_EVENT : F_OTHER;
            this.lineState = L_NAME;
          }
          break;
        }
        case L_NAME: {
          const byte = buffer[pos++]!;
          if (byte === COLON) {
            this.lineState = L_SPACE;
          } else if (byte === LF) {
            // A field with no colon has an empty value.
            if (this.field === F_DATA) this.hasData = true;
            this.lineState = L_START;
          }
          break;
        }
        case L_SPACE:
          if (buffer[pos] === SPACE) pos++;
          this.startValue();
          break;
        case L_NUMBER: {
          const byte = buffer[pos++]!;
          if (byte >= DIGIT_0 && byte <= DIGIT_9) {
            this.number = this.number * 10 + (byte - DIGIT_0);
          } else if (byte === LF) {
            if (this.field === F_ID) this.id = this.numberValid ? this.number : -1;
            this.lineState = L_START;
          } else if (byte !== CR) {
            this.numberValid = false;
          }
          break;
        }
        case L_EVENT: {
          const byte = buffer[pos++]!;
          if (byte === LF) this.lineState = L_START;
          else if (byte !== CR && this.eventName.length < 64) this.eventName += String.fromCharCode(byte);
          break;
        }
        case L_DATA: {
          // Byte by byte only through the first bytes of the line, looking for `"timestamp":`.
          if (this.scanned >= DATA_SCAN_LIMIT || !Number.isNaN(this.timestamp)) {
            this.lineState = L_SKIP;
            break;
          }
          const byte = buffer[pos++]!;
          this.scanned++;
          if (byte === LF) {
            this.lineState = L_START;
            break;
          }
          let j = this.match;
          while (j > 0 && byte !== TIMESTAMP_KEY[j]) j = TIMESTAMP_FAIL[j - 1]!;
          if (byte === TIMESTAMP_KEY[j]) j++;
          if (j === TIMESTAMP_KEY.length) {
            this.match = 0;
            this.number = 0;
            this.lineState = L_TIMESTAMP;
          } else {
            this.match = j;
          }
          break;
        }
        case L_TIMESTAMP: {
          const byte = buffer[pos];
          if (byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9) {
            this.number = this.number * 10 + (byte - DIGIT_0);
            pos++;
          } else {
            this.timestamp = this.number;
            this.lineState = L_SKIP;
          }
          break;
        }
        default: {
          // L_SKIP: the rest of the line, in one native search.
          const lf = buffer.indexOf(LF, pos);
          if (lf === -1 || lf >= end) return;
          pos = lf + 1;
          this.lineState = L_START;
        }
      }
    }
  }

  private startValue(): void {
    switch (this.field) {
      case F_ID:
        this.number = 0;
        this.numberValid = true;
        this.lineState = L_NUMBER;
        break;
      case F_DATA:
        this.hasData = true;
        this.scanned = 0;
        this.match = 0;
        this.lineState = this.eventName === '' || this.eventName === 'message' ? L_DATA : L_SKIP;
        break;
      case F_EVENT:
        this.eventName = '';
        this.lineState = L_EVENT;
        break;
      default:
        this.lineState = L_SKIP;
    }
  }

  private dispatch(): void {
    if (this.hasData) {
      if (this.eventName === '' || this.eventName === 'message') this.onMessage(this.id, this.timestamp);
      else this.onNamedEvent(this.eventName);
    }
    this.eventName = '';
    this.id = -1;
    this.timestamp = Number.NaN;
    this.hasData = false;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onEnd(this.isSse ? '' : this.refusalBody);
  }

  private fail(what: string): void {
    this.done = true;
    this.onProtocolError(what);
  }
}

const BODY_PENDING = 0;
const BODY_CHUNKED = 1;
const BODY_LENGTH = 2;
const BODY_UNTIL_CLOSE = 3;

const CHUNK_SIZE = 0;
const CHUNK_EXTENSION = 1;
const CHUNK_DATA = 2;
const CHUNK_DATA_END = 3;
const CHUNK_TRAILER = 4;

const L_START = 0;
const L_NAME = 1;
const L_SPACE = 2;
const L_NUMBER = 3;
const L_EVENT = 4;
const L_DATA = 5;
const L_TIMESTAMP = 6;
const L_SKIP = 7;

const F_OTHER = 0;
const F_ID = 1;
const F_DATA = 2;
const F_EVENT = 3;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MAX_HEAD = 16 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
const MAX_REFUSAL_BODY = 8 * 1024;
/** How far into a data line `"timestamp":` is looked for (the stream puts it in the first ≈ 80 bytes). */
const DATA_SCAN_LIMIT = 256;

const TIMESTAMP_KEY = Buffer.from('"timestamp":', 'latin1');
/** Knuth–Morris–Pratt failure function of TIMESTAMP_KEY, so a match can span reads. */
const TIMESTAMP_FAIL = (() => {
  const fail = new Array<number>(TIMESTAMP_KEY.length).fill(0);
  for (let i = 1, k = 0; i < TIMESTAMP_KEY.length; i++) {
    while (k > 0 && TIMESTAMP_KEY[i] !== TIMESTAMP_KEY[k]) k = fail[k - 1]!;
    if (TIMESTAMP_KEY[i] === TIMESTAMP_KEY[k]) k++;
    fail[i] = k;
  }
  return fail;
})();

function hexValue(byte: number): number {
  if (byte >= DIGIT_0 && byte <= DIGIT_9) return byte - DIGIT_0;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
