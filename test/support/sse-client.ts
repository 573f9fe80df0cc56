import { connect, type Socket } from 'node:net';
import { setReceiveBuffer } from './kernel-sockets.js';
import { LinkRate } from './link-rate.js';
import { type AuthOption, withAuth } from '@app/testing';

/** One dispatched SSE event. `event` is `message` when the stream named none. */
export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  /** The data lines joined by `\n`; empty for `message` events unless `keepMessageData`. */
  readonly data: string;
  /** `performance.now()` when the event was dispatched. */
  readonly at: number;
}

/** What the stream's `message` events carry besides the payload, read from each frame's prefix. */
export interface MessageInfo {
  readonly seq: number;
  readonly host: string;
  /** Server clock (epoch ms) when the event was generated. */
  readonly timestamp: number;
}

/** Where `SseClient.abort` cuts a connection before the response starts. */
export type HandshakeAbort =
  /** TCP connected, nothing sent. */
  | 'connected'
  /** Half of the request head sent. */
  | 'partial-request'
  /** The whole request sent, closed before any response byte. */
  | 'request-sent'
  /** The whole request sent, then only the client's sending side shut (FIN); the server must close. */
  | 'half-closed';

export interface SseClientOptions {
  /** Keep the data of `message` events (they can be 64 KiB each). Default false. */
  keepMessageData?: boolean;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Read at most this many bytes a second (a reader on a slow link); default: as fast as they come. */
  readBytesPerSecond?: number;
  /** SO_RCVBUF of the client socket (the kernel doubles it); default: the kernel's autotuned buffer. */
  receiveBufferBytes?: number;
  /** Keep `{seq, timestamp, receivedAt}` of every message in `messageLog`. Default false. */
  recordMessages?: boolean;
  /**
   * The credential sent. Default `'auto'`: a valid token for the path's user (from the test run's
   * secret) as `Authorization: Bearer`; `'none'` for an anonymous request; or a token / another
   * user / another transport (see `AuthOption`).
   */
  auth?: AuthOption;
}

/** A received `message` event: its seq, its server timestamp and when it arrived (both epoch ms). */
export interface MessageRecord {
  readonly seq: number;
  readonly timestamp: number;
  readonly receivedAt: number;
}

/** How often a paced reader gets its next share of bytes. */
const PACE_TICK_MS = 20;

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');
const LF = 0x0a;
const CR = 0x0d;
const MESSAGE_PREFIX = /^\{"host":("(?:[^"\\]|\\.)*"),"seq":(\d+),"timestamp":(\d+),/;

/**
 * A raw-socket HTTP/1.1 client for `GET /stream/:userId/:profileId`: it parses the status line,
 * the headers, chunked or length-delimited bodies and SSE framing itself, so a test sees exactly
 * the bytes the server wrote and controls the socket (stop reading, abort mid-handshake).
 */
export class SseClient {
  status = 0;
  /** Response headers, names lower-cased. */
  headers: Record<string, string> = {};
  /** Every dispatched event in order (`message` data only with `keepMessageData`). */
  readonly events: SseEvent[] = [];
  /** Comment lines (heartbeats). */
  comments = 0;
  /** The last `retry:` value. */
  retry: number | undefined;
  /** `message` events received. */
  messages = 0;
  /** The highest `seq` received (0 before the first message). */
  lastSeq = 0;
  /** `seq` values skipped over: the events the server dropped for this client. */
  gaps = 0;
  /** `seq` values that went backwards or repeated (must stay 0). */
  disorders = 0;
  /** Decoded body bytes (after chunked decoding). */
  bodyBytes = 0;
  /** The first bytes of the decoded body, as text (to check what a stream starts with). */
  bodyStart = '';
  /** The last `message` event's prefix fields. */
  lastMessage: MessageInfo | undefined;
  /** `performance.now()` when the socket closed. */
  closedAt: number | undefined;
  /** `performance.now()` when the response ended: its last byte arrived, or the socket closed first. */
  endedAt: number | undefined;
  /** Socket error, if one ended the connection. */
  error: Error | undefined;
  /** What did not parse as HTTP or as the stream's framing (must stay empty). */
  readonly protocolErrors: string[] = [];
  /** Every message's seq, timestamp and arrival, with `recordMessages`. */
  readonly messageLog: MessageRecord[] = [];

  /** Resolves once the status line and headers are in; rejects if the socket closes first. */
  readonly response: Promise<this>;
  /** Resolves when the socket is closed, for any reason. */
  readonly closed: Promise<void>;

  private readonly socket: Socket;
  private readonly keepMessageData: boolean;
  private readonly recordMessages: boolean;
  /** Paced reading: bytes the reader may still take now, and whether the test stopped it. */
  private readBudget = 0;
  private readingStopped = false;
  private pacer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();
  /** Settles `response`; replaced in the constructor. */
  private onHead: () => void = () => undefined;
  private head: Buffer[] = [];
  private headLength = 0;
  private headDone = false;
  private readonly body: Buffer[] = [];
  private contentLength: number | undefined;
  private chunked = false;
  private isSse = false;
  private complete = false;
  // chunked decoder
  private chunkRemaining = 0;
  private chunkState: 'size' | 'data' | 'data-crlf' | 'trailer' = 'size';
  private sizeLine = '';
  // SSE line parser
  private linePieces: Buffer[] = [];
  private lastByteWasCr = false;
  private eventName = '';
  private eventId: string | undefined;
  private dataLines: string[] = [];
  private dataPrefix: string | undefined;
  private hasData = false;

  private constructor(
    readonly url: string,
    readonly path: string,
    options: SseClientOptions,
    abortAt?: HandshakeAbort,
  ) {
    this.keepMessageData = options.keepMessageData ?? false;
    this.recordMessages = options.recordMessages ?? false;
    // A resumed stream counts its gaps from the last event the client had, as a browser does.
    const lastEventId = Object.entries(options.headers ?? {}).find(([name]) => name.toLowerCase() === 'last-event-id');
    if (lastEventId && /^\d+$/.test(lastEventId[1])) this.lastSeq = Number(lastEventId[1]);
    const { hostname, port } = new URL(url);
    // `path` stays as given (it names the stream in messages); a query token goes only on the wire.
    const prepared = withAuth(path, options.headers ?? {}, options.auth).then(
      (auth) =>
        `GET ${auth.path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAccept: text/event-stream\r\n` +
        `Cache-Control: no-cache\r\n${Object.entries({ ...options.headers, ...auth.headers })
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('')}\r\n`,
    );
    // Awaited on connect; a connection that never opens must not leave the rejection unhandled.
    prepared.catch(() => undefined);
    this.socket = connect({ host: hostname, port: Number(port) });
    this.socket.setNoDelay(true);
    const { readBytesPerSecond, receiveBufferBytes } = options;
    if (readBytesPerSecond !== undefined) this.pace(readBytesPerSecond);
    this.closed = new Promise((resolve) =>
      this.socket.once('close', () => {
        clearInterval(this.pacer);
        this.closedAt = performance.now();
        this.endedAt ??= this.closedAt;
        this.notify();
        resolve();
      }),
    );
    this.socket.on('error', (error) => (this.error = error));
    this.response = new Promise((resolve, reject) => {
      const onClose = () =>
        reject(new Error(`${path}: connection closed before the response head (${this.error?.message ?? 'no error'})`));
      this.socket.once('close', onClose);
      this.onHead = () => {
        this.socket.off('close', onClose);
        resolve(this);
      };
    });
    // An aborted handshake never has a response; keep its rejection from going unhandled.
    this.response.catch(() => undefined);
    this.socket.once('connect', async () => {
      let request: string;
      try {
        request = await prepared;
      } catch (error) {
        this.error = error as Error;
        this.socket.destroy();
        return;
      }
      if (this.socket.destroyed) return;
      if (receiveBufferBytes !== undefined) setReceiveBuffer(this.socket, receiveBufferBytes);
      if (abortAt === 'connected') {
        this.socket.destroy();
      } else if (abortAt === 'partial-request') {
        this.socket.write(request.slice(0, Math.floor(request.length / 2)), () => this.socket.destroy());
      } else if (abortAt === 'request-sent') {
        this.socket.write(request, () => this.socket.destroy());
      } else if (abortAt === 'half-closed') {
        this.socket.end(request);
      } else {
        this.socket.write(request);
      }
    });
    this.socket.on('data', (chunk: Buffer) => {
      this.receive(chunk);
      if (this.pacer !== undefined) {
        this.readBudget -= chunk.length;
        if (this.readBudget <= 0) this.socket.pause();
      }
    });
  }

  /** Reads at `bytesPerSecond`: the socket is paused whenever the reader has used its share. */
  private pace(bytesPerSecond: number): void {
    // At most 100 ms worth banked, so the reader never bursts like a fast one.
    const link = new LinkRate(bytesPerSecond, 100);
    this.pacer = setInterval(() => {
      this.readBudget = link.refill(this.readBudget);
      if (this.readBudget > 0 && !this.readingStopped) this.socket.resume();
    }, PACE_TICK_MS);
    this.pacer.unref();
  }

  /** Opens `path` on `url` and resolves once the response head has arrived. */
  static async open(url: string, path: string, options: SseClientOptions = {}): Promise<SseClient> {
    return new SseClient(url, path, options).response;
  }

  /** Opens `path` without waiting for anything; await `response` or `closed` yourself. */
  static start(url: string, path: string, options: SseClientOptions = {}): SseClient {
    return new SseClient(url, path, options);
  }

  /**
   * Connects and cuts the connection at `stage` of the handshake; resolves once the socket is
   * closed (for `half-closed`, once the server has closed its side too).
   */
  static async abort(url: string, path: string, stage: HandshakeAbort): Promise<void> {
    await new SseClient(url, path, {}, stage).closed;
  }

  /** True once the status line and headers are in and the response is `text/event-stream`. */
  get streaming(): boolean {
    return this.isSse;
  }

  /** The client side's port (to find this connection's sockets with `ss`). */
  get localPort(): number | undefined {
    return this.socket.localPort;
  }

  get isClosed(): boolean {
    return this.closedAt !== undefined;
  }

  /**
   * True once the response is over: the terminating chunk arrived (the server ended the stream;
   * the socket itself may stay open for keep-alive, as a browser's would) or the socket closed.
   */
  get ended(): boolean {
    return this.endedAt !== undefined;
  }

  /** The response body as text (for refusals; a stream's body is parsed into events instead). */
  get text(): string {
    return Buffer.concat(this.body).toString('utf8');
  }

  /** The body of a non-SSE response parsed as JSON, once it is complete. */
  async json<T = any>(timeoutMs = 5000): Promise<T> {
    await this.waitUntil(() => this.ended, timeoutMs, 'the complete response body');
    return JSON.parse(this.text) as T;
  }

  /** The names of the events received so far, in order. */
  eventNames(): string[] {
    return this.events.map((event) => event.event);
  }

  /** Stops reading from the socket without closing it: the server's writes pile up in its buffers. */
  stopReading(): void {
    this.readingStopped = true;
    this.socket.pause();
  }

  resumeReading(): void {
    this.readingStopped = false;
    if (this.pacer === undefined || this.readBudget > 0) this.socket.resume();
  }

  /** Closes the connection at once (as a browser tab closing) and resolves once it is closed. */
  async close(): Promise<void> {
    this.socket.destroy();
    await this.closed;
  }

  /** Resolves with the first event named `name` (already received or still to come). */
  async waitForEvent(name: string, timeoutMs = 5000): Promise<SseEvent> {
    let found: SseEvent | undefined;
    await this.waitUntil(
      () => (found = this.events.find((event) => event.event === name)) !== undefined,
      timeoutMs,
      `event "${name}"`,
    );
    return found!;
  }

  /** Resolves once the response has ended (see `ended`). */
  async waitForEnd(timeoutMs = 5000): Promise<void> {
    await this.waitUntil(() => this.ended, timeoutMs, 'the end of the response');
  }

  /** Resolves once the socket is closed (by the server, a crash, or `close()`). */
  async waitForClose(timeoutMs = 5000): Promise<void> {
    await this.waitUntil(() => this.isClosed, timeoutMs, 'the connection to close', false);
  }

  /**
   * Resolves once `condition()` holds; it is checked now, after every received chunk and on
   * close. Rejects after `timeoutMs`, or as soon as the response has ended without it (nothing
   * more can arrive) unless `stopAtEnd` is false, naming `what`.
   */
  waitUntil(condition: () => boolean, timeoutMs: number, what = 'a condition', stopAtEnd = true): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) return finish();
        if (stopAtEnd ? this.ended : this.isClosed)
          finish(new Error(`${this.path}: ended while waiting for ${what}${this.describe()}`));
      };
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => finish(new Error(`${this.path}: no ${what} within ${timeoutMs} ms${this.describe()}`)),
        timeoutMs,
      );
      this.waiters.add(check);
      check();
    });
  }

  private describe(): string {
    const names = this.eventNames().filter((name) => name !== 'message');
    const state = this.isClosed ? 'closed' : this.ended ? 'ended' : 'open';
    return ` (status ${this.status}, ${this.messages} messages, events [${names.join(', ')}], ${state})`;
  }

  private notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  private receive(chunk: Buffer): void {
    if (this.protocolErrors.length > 0) return;
    if (!this.headDone) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      const all = Buffer.concat(this.head, this.headLength);
      const end = all.indexOf(HEAD_END);
      if (end === -1) return;
      this.parseHead(all.subarray(0, end).toString('latin1'));
      this.head = [];
      this.headDone = true;
      this.onHead();
      const rest = all.subarray(end + HEAD_END.length);
      if (rest.length > 0) this.receiveBody(rest);
      else if (this.contentLength === 0) this.markComplete();
    } else {
      this.receiveBody(chunk);
    }
    this.notify();
  }

  private parseHead(text: string): void {
    const [statusLine = '', ...lines] = text.split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine);
    if (!match) return this.protocolError(`not an HTTP status line: ${statusLine}`);
    this.status = Number(match[1]);
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon > 0) this.headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    this.chunked = /chunked/i.test(this.headers['transfer-encoding'] ?? '');
    if (this.headers['content-length'] !== undefined) this.contentLength = Number(this.headers['content-length']);
    this.isSse = this.status === 200 && (this.headers['content-type'] ?? '').startsWith('text/event-stream');
  }

  private receiveBody(chunk: Buffer): void {
    if (!this.chunked) {
      this.consume(chunk);
      if (this.contentLength !== undefined && this.bodyBytes >= this.contentLength) this.markComplete();
      return;
    }
    let offset = 0;
    while (offset < chunk.length && !this.complete) {
      switch (this.chunkState) {
        case 'size': {
          const lf = chunk.indexOf(LF, offset);
          if (lf === -1) {
            this.sizeLine += chunk.toString('latin1', offset);
            offset = chunk.length;
            break;
          }
          this.sizeLine += chunk.toString('latin1', offset, lf);
          offset = lf + 1;
          const size = Number.parseInt(this.sizeLine.trim().split(';')[0] ?? '', 16);
          this.sizeLine = '';
          if (!Number.isFinite(size)) return this.protocolError(`bad chunk size line`);
          if (size === 0) {
            this.chunkState = 'trailer';
          } else {
            this.chunkRemaining = size;
            this.chunkState = 'data';
          }
          break;
        }
        case 'data': {
          const take = Math.min(this.chunkRemaining, chunk.length - offset);
          this.consume(chunk.subarray(offset, offset + take));
          offset += take;
          this.chunkRemaining -= take;
          if (this.chunkRemaining === 0) {
            this.chunkState = 'data-crlf';
            this.chunkRemaining = CRLF.length;
          }
          break;
        }
        case 'data-crlf': {
          const take = Math.min(this.chunkRemaining, chunk.length - offset);
          offset += take;
          this.chunkRemaining -= take;
          if (this.chunkRemaining === 0) this.chunkState = 'size';
          break;
        }
        case 'trailer':
          // Terminating chunk seen: the body is complete (trailers are not used here).
          this.markComplete();
          offset = chunk.length;
          break;
      }
    }
    if (this.chunkState === 'trailer') this.markComplete();
  }

  private consume(bytes: Buffer): void {
    this.bodyBytes += bytes.length;
    if (this.bodyStart.length < 256) this.bodyStart += bytes.subarray(0, 256).toString('utf8');
    if (!this.isSse) {
      this.body.push(Buffer.from(bytes));
      return;
    }
    let start = 0;
    if (this.lastByteWasCr) {
      // The LF of a CRLF whose CR ended the previous piece.
      this.lastByteWasCr = false;
      if (bytes[0] === LF) start = 1;
    }
    // The server ends lines with LF only; the byte-by-byte path is for CR and CRLF.
    const anyCr = bytes.indexOf(CR, start) !== -1;
    while (start < bytes.length && this.protocolErrors.length === 0) {
      const end = anyCr ? lineEnd(bytes, start) : bytes.indexOf(LF, start);
      if (end === -1) {
        this.linePieces.push(Buffer.from(bytes.subarray(start)));
        return;
      }
      const piece = bytes.subarray(start, end);
      this.line(this.linePieces.length === 0 ? piece : Buffer.concat([...this.linePieces, piece]));
      this.linePieces = [];
      if (bytes[end] === CR) {
        if (end + 1 === bytes.length) {
          this.lastByteWasCr = true;
          return;
        }
        start = bytes[end + 1] === LF ? end + 2 : end + 1;
      } else {
        start = end + 1;
      }
    }
  }

  /** One SSE line (https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation). */
  private line(line: Buffer): void {
    if (line.length === 0) return this.dispatch();
    const colon = line.indexOf(0x3a);
    if (colon === 0) {
      this.comments++;
      return;
    }
    const name = (colon === -1 ? line : line.subarray(0, colon)).toString('utf8');
    let valueStart = colon === -1 ? line.length : colon + 1;
    if (line[valueStart] === 0x20) valueStart++;
    const value = line.subarray(valueStart);
    switch (name) {
      case 'event':
        this.eventName = value.toString('utf8');
        break;
      case 'id':
        this.eventId = value.toString('utf8');
        break;
      case 'retry':
        this.retry = Number(value.toString('latin1'));
        break;
      case 'data':
        this.hasData = true;
        this.dataPrefix ??= value.subarray(0, 160).toString('utf8');
        this.dataLines.push(value.length > 4096 && !this.keepMessageData ? '' : value.toString('utf8'));
        break;
    }
  }

  private dispatch(): void {
    if (!this.hasData) {
      // No data: the spec discards the event (a `retry`-only frame).
      this.resetEvent();
      return;
    }
    const name = this.eventName || 'message';
    const isMessage = name === 'message';
    if (isMessage) this.countMessage();
    this.events.push({
      event: name,
      id: this.eventId,
      data: isMessage && !this.keepMessageData ? '' : this.dataLines.join('\n'),
      at: performance.now(),
    });
    this.resetEvent();
  }

  private countMessage(): void {
    this.messages++;
    const match = MESSAGE_PREFIX.exec(this.dataPrefix ?? '');
    const seq = Number(this.eventId);
    if (!Number.isSafeInteger(seq) || !match || Number(match[2]) !== seq) {
      return this.protocolError(`malformed message event: id ${this.eventId}, data ${this.dataPrefix?.slice(0, 80)}`);
    }
    if (seq <= this.lastSeq) {
      this.disorders++;
      return;
    }
    this.gaps += seq - this.lastSeq - 1;
    this.lastSeq = seq;
    this.lastMessage = { seq, host: JSON.parse(match[1]!) as string, timestamp: Number(match[3]) };
    if (this.recordMessages) this.messageLog.push({ seq, timestamp: Number(match[3]), receivedAt: Date.now() });
  }

  private markComplete(): void {
    this.complete = true;
    this.endedAt ??= performance.now();
  }

  /** Records what went wrong and drops the connection: nothing after it could be trusted. */
  private protocolError(message: string): void {
    this.protocolErrors.push(message);
    this.socket.destroy();
  }

  private resetEvent(): void {
    this.eventName = '';
    this.eventId = undefined;
    this.dataLines = [];
    this.dataPrefix = undefined;
    this.hasData = false;
  }
}

/** Index of the first CR or LF at or after `from`, or -1. */
function lineEnd(bytes: Buffer, from: number): number {
  for (let i = from; i < bytes.length; i++) if (bytes[i] === LF || bytes[i] === CR) return i;
  return -1;
}
