/**
 * The one incremental reader of an HTTP/1.1 response carrying Server-Sent Events, for the e2e
 * client (`SseClient`) and for the load generator holding thousands of streams at once. It keeps a
 * few numbers of state per stream and never keeps a reference to the bytes it is fed (a caller may
 * reuse one read buffer for every socket).
 *
 * HTTP: the status line, the headers, and a chunked, length-delimited or close-delimited body.
 * SSE: the fields `event`, `id`, `data` and `retry` matched by their whole name, comments, and
 * lines ended by LF, CR or CRLF.
 *
 * By default a `data:` line is never copied, decoded or JSON-parsed: of a `message` event only the
 * `id:` (its sequence number and history entry, `<seq>.<ms>-<n>.<session>`) and the digits after `"timestamp":` in the first bytes of the data
 * line are picked out, and the rest is skipped with `indexOf`. With `captureDataBytes` the first
 * bytes of every data line are handed to `onDataLine` instead (and no timestamp is looked for), and
 * `eventIdText` holds the event's `id:` as written. A body that is not `text/event-stream` (a
 * refusal) is kept, up to `maxRefusalBytes`.
 */
export abstract class SseScanner {
  /** HTTP status of the response; 0 until its head has arrived. */
  status = 0;
  /** Response headers, names lower-cased (the last one wins when a name repeats). */
  headers: Record<string, string> = {};
  /** True once the head said `text/event-stream` with a 2xx status. */
  isSse = false;
  /** Decoded body bytes (after chunked decoding). */
  bodyBytes = 0;

  private readonly captureDataBytes: number;
  private readonly maxRefusalBytes: number;
  private headText = '';
  private bodyMode = BODY_PENDING;
  private remaining = 0;
  private chunkState = CHUNK_SIZE;
  private refusal: Buffer[] = [];
  private refusalBytes = 0;
  private done = false;
  // SSE line state
  private lineState = L_START;
  /** The previous byte was a CR ending a line: an LF right after it belongs to that line end. */
  private afterCr = false;
  private field = F_OTHER;
  /** How many bytes of the field's name matched `FIELD_NAMES[field]` so far. */
  private nameAt = 0;
  private number = 0;
  private numberState = N_EMPTY;
  private scanned = 0;
  private match = 0;
  private eventName = '';
  private id = -1;
  private idText: string | undefined = undefined;
  /** Which part of an id is being read, and the entry's numbers so far. */
  private idPart = ID_SEQ;
  private entryMsValue = 0;
  private entryNValue = 0;
  /** The history entry (`[ms, n]`) the current event's id carries; `[0, 0]` for none or a bare seq. */
  protected entry: readonly [number, number] = NO_ENTRY;
  private timestamp = Number.NaN;
  private hasData = false;
  private captured: Buffer[] = [];
  private capturedBytes = 0;
  private lineBytes = 0;

  constructor(options: { captureDataBytes?: number; maxRefusalBytes?: number } = {}) {
    this.captureDataBytes = options.captureDataBytes ?? 0;
    this.maxRefusalBytes = options.maxRefusalBytes ?? DEFAULT_MAX_REFUSAL_BYTES;
  }

  /** Feeds the bytes `buffer[start, end)` as they came off the socket. */
  feed(buffer: Buffer, start: number, end: number): void {
    if (this.done) return;
    let pos = start;
    if (this.bodyMode === BODY_PENDING) {
      pos = this.readHead(buffer, pos, end);
      if (pos < 0) return;
    }
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
  connectionClosed(): void {
    if (this.bodyMode === BODY_UNTIL_CLOSE && !this.done) this.finish();
  }

  /** The refusal body received so far (empty for a stream). */
  protected get refusalText(): string {
    return Buffer.concat(this.refusal, this.refusalBytes).toString('utf8');
  }

  /** The current event's `id:` as written, with `captureDataBytes` (undefined when it has none). */
  protected get eventIdText(): string | undefined {
    return this.idText;
  }

  /** The status line and headers are in; `isSse` tells a stream from a refusal. */
  protected abstract onHead(status: number, isSse: boolean): void;
  /** A `message` event: its `id` (-1 if none or not a number) and its data's `timestamp` (NaN if none). */
  protected abstract onMessage(id: number, timestamp: number): void;
  /** An event with a name other than `message` (`hello`, `lock-lost`, `reconnect` …). */
  protected abstract onNamedEvent(name: string): void;
  /** A comment line (`: heartbeat`). */
  protected abstract onComment(): void;
  /** The body ended: the terminating chunk, the last of `content-length` bytes, or the close. */
  protected abstract onEnd(refusalBody: string): void;
  /** Bytes that are not HTTP (or that the subclass rejects through `fail`); nothing more is reported. */
  protected abstract onProtocolError(what: string): void;
  /** A `retry:` field with a valid number of milliseconds. */
  protected onRetry(_ms: number): void {}
  /** With `captureDataBytes`: a data line's first bytes (a copy) and its whole length. */
  protected onDataLine(_captured: Buffer, _length: number): void {}
  /** Decoded body bytes `buffer[start, end)`, stream or refusal; valid only during the call. */
  protected onBodyBytes(_buffer: Buffer, _start: number, _end: number): void {}

  /** Stops reading: `what` goes to `onProtocolError` and every later byte is ignored. */
  protected fail(what: string): void {
    this.done = true;
    this.onProtocolError(what);
  }

  /** Returns where the body starts in `buffer`, or -1 when the head is not complete yet. */
  private readHead(buffer: Buffer, start: number, end: number): number {
    const before = this.headText.length;
    this.headText += buffer.toString('latin1', start, end);
    const headEnd = this.headText.indexOf('\r\n\r\n');
    if (headEnd === -1) {
      if (this.headText.length > MAX_HEAD) this.fail('response head over 16 KiB');
      return -1;
    }
    const [statusLine = '', ...lines] = this.headText.slice(0, headEnd).split('\r\n');
    const bodyStart = start + (headEnd + 4 - before);
    this.headText = '';
    const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!statusMatch) {
      this.fail(`not an HTTP response: ${JSON.stringify(statusLine.slice(0, 40))}`);
      return -1;
    }
    this.status = Number(statusMatch[1]);
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const {
      'content-type': contentType = '',
      'content-length': length,
      'transfer-encoding': coding = '',
    } = this.headers;
    if (/chunked/i.test(coding)) {
      this.bodyMode = BODY_CHUNKED;
    } else if (length !== undefined) {
      if (!/^\d+$/.test(length)) {
        this.fail(`bad content-length ${JSON.stringify(length.slice(0, 40))}`);
        return -1;
      }
      this.bodyMode = BODY_LENGTH;
      this.remaining = Number(length);
    } else {
      this.bodyMode = BODY_UNTIL_CLOSE;
    }
    this.isSse = this.status >= 200 && this.status < 300 && contentType.toLowerCase().startsWith('text/event-stream');
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
    this.onBodyBytes(buffer, start, end);
    if (!this.isSse) {
      const take = Math.min(end - start, this.maxRefusalBytes - this.refusalBytes);
      if (take > 0) {
        this.refusal.push(Buffer.from(buffer.subarray(start, start + take)));
        this.refusalBytes += take;
      }
      return;
    }
    let pos = start;
    // The first CR at or after `pos` (buffer.length: none), looked up only where a line is skipped.
    let cr = -1;
    while (pos < end && !this.done) {
      if (this.afterCr) {
        this.afterCr = false;
        if (buffer[pos] === LF) {
          pos++;
          continue;
        }
      }
      switch (this.lineState) {
        case L_START: {
          const byte = buffer[pos++]!;
          if (byte === LF || byte === CR) {
            this.afterCr = byte === CR;
            this.dispatch();
          } else if (byte === COLON) {
            this.onComment();
            this.lineState = L_SKIP;
          } else {
            this.field = fieldOf(byte);
            this.nameAt = 1;
            this.lineState = L_NAME;
          }
          break;
        }
        case L_NAME: {
          const byte = buffer[pos++]!;
          if (byte === COLON) {
            if (this.nameAt !== FIELD_NAMES[this.field]!.length) this.field = F_OTHER;
            this.lineState = L_SPACE;
          } else if (byte === LF || byte === CR) {
            // A field with no colon has an empty value.
            if (this.nameAt !== FIELD_NAMES[this.field]!.length) this.field = F_OTHER;
            this.startValue();
            this.endLine(byte);
          } else if (this.field !== F_OTHER) {
            if (byte === FIELD_NAMES[this.field]!.charCodeAt(this.nameAt)) this.nameAt++;
            else this.field = F_OTHER;
          }
          break;
        }
        case L_SPACE:
          if (buffer[pos] === SPACE) pos++;
          this.startValue();
          break;
        case L_NUMBER: {
          const byte = buffer[pos++]!;
          const digit = byte >= DIGIT_0 && byte <= DIGIT_9;
          if (byte === LF || byte === CR) {
            this.endLine(byte);
            break;
          } else if (this.field === F_ID && this.idPart > ID_SEQ) {
            this.idByte(byte, digit);
          } else if (digit) {
            this.number = this.number * 10 + (byte - DIGIT_0);
            if (this.numberState === N_EMPTY) this.numberState = N_DIGITS;
          } else if (this.field === F_ID && byte === DOT && this.numberState === N_DIGITS) {
            this.idPart = ID_ENTRY_MS;
          } else {
            this.numberState = N_BAD;
          }
          if (this.idText !== undefined && this.field === F_ID && this.idText.length < MAX_NAME) {
            this.idText += String.fromCharCode(byte);
          }
          break;
        }
        case L_EVENT: {
          const byte = buffer[pos++]!;
          if (byte === LF || byte === CR) this.endLine(byte);
          else if (this.eventName.length < MAX_NAME) this.eventName += String.fromCharCode(byte);
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
          if (byte === LF || byte === CR) {
            this.endLine(byte);
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
          const byte = buffer[pos]!;
          if (byte >= DIGIT_0 && byte <= DIGIT_9) {
            this.number = this.number * 10 + (byte - DIGIT_0);
            pos++;
          } else {
            this.timestamp = this.number;
            this.lineState = L_SKIP;
          }
          break;
        }
        default: {
          // L_SKIP and L_CAPTURE: the rest of the line, in native searches.
          if (cr < pos) {
            const at = buffer.indexOf(CR, pos);
            cr = at === -1 ? buffer.length : at;
          }
          const lf = buffer.indexOf(LF, pos);
          let stop = lf === -1 || lf >= end ? end : lf;
          if (cr < stop) stop = cr;
          if (this.lineState === L_CAPTURE) this.capture(buffer, pos, stop);
          if (stop === end) return;
          pos = stop + 1;
          this.endLine(buffer[stop]!);
        }
      }
    }
  }

  /**
   * A byte of an id after its seq (`<seq>.<ms>-<n>.<session>`): the entry's two numbers are kept,
   * the session's hex digits only checked.
   */
  private idByte(byte: number, digit: boolean): void {
    const hex = digit || (byte >= 0x61 && byte <= 0x66);
    if (this.idPart === ID_ENTRY_MS && digit) this.entryMsValue = this.entryMsValue * 10 + (byte - DIGIT_0);
    else if (this.idPart === ID_ENTRY_MS && byte === DASH) this.idPart = ID_ENTRY_N;
    else if (this.idPart === ID_ENTRY_N && digit) this.entryNValue = this.entryNValue * 10 + (byte - DIGIT_0);
    else if (this.idPart === ID_ENTRY_N && byte === DOT) this.idPart = ID_SESSION;
    else if (this.idPart !== ID_SESSION || !hex) this.numberState = N_BAD;
  }

  private startValue(): void {
    switch (this.field) {
      case F_ID:
      case F_RETRY:
        this.number = 0;
        this.numberState = N_EMPTY;
        this.idPart = ID_SEQ;
        if (this.field === F_ID) this.entryMsValue = this.entryNValue = 0;
        if (this.field === F_ID && this.captureDataBytes > 0) this.idText = '';
        this.lineState = L_NUMBER;
        break;
      case F_DATA:
        this.hasData = true;
        if (this.captureDataBytes > 0) {
          this.lineState = L_CAPTURE;
        } else {
          this.scanned = 0;
          this.match = 0;
          this.lineState = this.eventName === '' || this.eventName === 'message' ? L_DATA : L_SKIP;
        }
        break;
      case F_EVENT:
        this.eventName = '';
        this.lineState = L_EVENT;
        break;
      default:
        this.lineState = L_SKIP;
    }
  }

  /** A line ended (by `byte`, LF or CR): what its value said takes effect. */
  private endLine(byte: number): void {
    this.afterCr = byte === CR;
    if (this.lineState === L_NUMBER) {
      const valid = this.numberState === N_DIGITS && (this.idPart === ID_SEQ || this.idPart === ID_SESSION);
      if (this.field === F_ID) {
        this.id = valid ? this.number : -1;
        this.entry = valid && this.idPart === ID_SESSION ? [this.entryMsValue, this.entryNValue] : NO_ENTRY;
      } else if (valid) this.onRetry(this.number);
    } else if (this.lineState === L_CAPTURE) {
      const captured =
        this.captured.length === 1 ? this.captured[0]! : Buffer.concat(this.captured, this.capturedBytes);
      const length = this.lineBytes;
      this.captured = [];
      this.capturedBytes = 0;
      this.lineBytes = 0;
      this.onDataLine(captured, length);
    }
    this.lineState = L_START;
  }

  private capture(buffer: Buffer, start: number, end: number): void {
    this.lineBytes += end - start;
    const take = Math.min(end - start, this.captureDataBytes - this.capturedBytes);
    if (take <= 0) return;
    this.captured.push(Buffer.from(buffer.subarray(start, start + take)));
    this.capturedBytes += take;
  }

  private dispatch(): void {
    if (this.hasData) {
      if (this.eventName === '' || this.eventName === 'message') this.onMessage(this.id, this.timestamp);
      else this.onNamedEvent(this.eventName);
    }
    this.eventName = '';
    this.id = -1;
    this.entry = NO_ENTRY;
    this.idText = undefined;
    this.timestamp = Number.NaN;
    this.hasData = false;
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    this.onEnd(this.isSse ? '' : this.refusalText);
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
const L_CAPTURE = 8;

const F_OTHER = 0;
const F_ID = 1;
const F_DATA = 2;
const F_EVENT = 3;
const F_RETRY = 4;
/** The whole name of each field; a field whose name differs by a byte is ignored, as the spec says. */
const FIELD_NAMES = ['', 'id', 'data', 'event', 'retry'];

/** The parts of an id `<seq>.<ms>-<n>.<session>` (a bare `<seq>` is read too). */
const ID_SEQ = 0;
const ID_ENTRY_MS = 1;
const ID_ENTRY_N = 2;
const ID_SESSION = 3;
const NO_ENTRY: readonly [number, number] = [0, 0];
const DOT = 0x2e;
const DASH = 0x2d;

/** A number field's value so far: nothing, only digits, or something else (ignored). */
const N_EMPTY = 0;
const N_DIGITS = 1;
const N_BAD = 2;

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SEMICOLON = 0x3b;
const SPACE = 0x20;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MAX_HEAD = 16 * 1024;
const MAX_CHUNK = 64 * 1024 * 1024;
const DEFAULT_MAX_REFUSAL_BYTES = 8 * 1024;
/** Longest event name or id kept; the stream's are a few bytes. */
const MAX_NAME = 256;
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

/** The field a line's first byte may start: d(ata), i(d), e(vent), r(etry). */
function fieldOf(byte: number): number {
  return byte === 0x64 ? F_DATA : byte === 0x69 ? F_ID : byte === 0x65 ? F_EVENT : byte === 0x72 ? F_RETRY : F_OTHER;
}

function hexValue(byte: number): number {
  if (byte >= DIGIT_0 && byte <= DIGIT_9) return byte - DIGIT_0;
  const lower = byte | 0x20;
  return lower >= 0x61 && lower <= 0x66 ? lower - 0x61 + 10 : -1;
}
