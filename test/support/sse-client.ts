import { connect, type Socket } from 'node:net';
import { setReceiveBuffer } from './kernel-sockets.js';
import { LinkRate } from './link-rate.js';
import { SseScanner } from './sse-scanner.js';
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

/** The events the stream itself sends; any other named event is a published one. */
const STREAM_EVENTS: ReadonlySet<string> = new Set(['hello', 'lock-lost', 'reconnect', 'refused', 'events-lost']);

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
   * Behave as a standard EventSource: `Accept: text/event-stream` only, so refusals that retrying
   * can fix come as a 200 `refused` stream. Default false: like the web client, it also accepts
   * JSON and gets refusals as their HTTP status.
   */
  standard?: boolean;
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

/** A data line longer than this is kept as '' unless `keepMessageData` (stream payloads are 64 KiB). */
const DATA_LINE_KEPT_BYTES = 4096;
/** How much of an event's first data line `MESSAGE_PREFIX` is matched against. */
const DATA_PREFIX_BYTES = 160;
const MESSAGE_PREFIX = /^\{"host":("(?:[^"\\]|\\.)*"),"seq":(\d+),"timestamp":(\d+),/;

/**
 * A raw-socket HTTP/1.1 client for `GET /stream/:userId/:profileId`: the shared `SseScanner`
 * parses the response (status line, headers, chunked or length-delimited body, SSE framing) from
 * the bytes exactly as the server wrote them, and the test controls the socket (stop reading,
 * abort mid-handshake).
 */
export class SseClient extends SseScanner {
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
  /** Published events (those whose id moved the history entry), with their data, in order. */
  readonly published: SseEvent[] = [];
  /** The history entry of the last id received (`<ms>-<n>`; `0-0` before any). */
  lastEntry = '0-0';
  /** The whole id of the last event that had one (what an EventSource sends back as Last-Event-ID). */
  lastEventId: string | undefined;

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
  private resolveHead: () => void = () => undefined;
  /** The current event's data lines, and the start of its first one. */
  private dataLines: string[] = [];
  private dataPrefix: string | undefined;
  /** The event being dispatched moved the history entry (a published event: its data is kept). */
  private movedNow = false;

  private constructor(
    readonly url: string,
    readonly path: string,
    options: SseClientOptions,
    abortAt?: HandshakeAbort,
  ) {
    super({
      captureDataBytes: options.keepMessageData ? Number.POSITIVE_INFINITY : DATA_LINE_KEPT_BYTES,
      maxRefusalBytes: Number.POSITIVE_INFINITY,
    });
    this.keepMessageData = options.keepMessageData ?? false;
    this.recordMessages = options.recordMessages ?? false;
    // A resumed stream counts its gaps from the last event the client had, as a browser does.
    const lastEventId = Object.entries(options.headers ?? {}).find(([name]) => name.toLowerCase() === 'last-event-id');
    const resumed = lastEventId && /^(\d+)(?:\.(\d+-\d+)\.[0-9a-f]{16})?$/.exec(lastEventId[1]);
    if (resumed) {
      this.lastSeq = Number(resumed[1]);
      this.lastEntry = resumed[2] ?? this.lastEntry;
    }
    const { hostname, port } = new URL(url);
    // `path` stays as given (it names the stream in messages); a query token goes only on the wire.
    const prepared = withAuth(path, options.headers ?? {}, options.auth).then(
      (auth) =>
        `GET ${auth.path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\n` +
        `Accept: ${options.standard ? 'text/event-stream' : 'text/event-stream, application/json'}\r\n` +
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
        this.connectionClosed();
        this.closedAt = performance.now();
        this.endedAt ??= this.closedAt;
        this.notify();
        resolve();
      }),
    );
    this.socket.on('error', (error) => (this.error = error));
    this.response = new Promise((resolve, reject) => {
      const onClose = () => {
        const why = this.protocolErrors[0] ?? this.error?.message ?? 'no error';
        reject(new Error(`${path}: connection closed before the response head (${why})`));
      };
      this.socket.once('close', onClose);
      this.resolveHead = () => {
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
      this.feed(chunk, 0, chunk.length);
      this.notify();
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
    return this.refusalText;
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

  protected onHead(): void {
    this.resolveHead();
  }

  protected onMessage(): void {
    if (this.movedEntry()) this.published.push(this.dispatched('message'));
    else {
      this.countMessage();
      this.dispatched('message');
    }
  }

  protected onNamedEvent(name: string): void {
    const moved = this.movedEntry();
    const event = this.dispatched(name);
    if (moved && !STREAM_EVENTS.has(name)) this.published.push(event);
  }

  /** Whether this event's id carries a history entry other than the last one: a published event. */
  private movedEntry(): boolean {
    if (this.eventIdText !== undefined) this.lastEventId = this.eventIdText;
    const [ms, n] = this.entry;
    if (ms === 0 && n === 0) return false;
    const entry = `${ms}-${n}`;
    const moved = entry !== this.lastEntry;
    this.lastEntry = entry;
    this.movedNow = moved;
    return moved;
  }

  protected onComment(): void {
    this.comments++;
  }

  protected override onRetry(ms: number): void {
    this.retry = ms;
  }

  protected override onDataLine(captured: Buffer, length: number): void {
    this.dataPrefix ??= captured.subarray(0, DATA_PREFIX_BYTES).toString('utf8');
    this.dataLines.push(length > DATA_LINE_KEPT_BYTES && !this.keepMessageData ? '' : captured.toString('utf8'));
  }

  protected override onBodyBytes(buffer: Buffer, start: number, end: number): void {
    if (this.bodyStart.length < 256) this.bodyStart += buffer.toString('utf8', start, Math.min(end, start + 256));
  }

  protected onEnd(): void {
    this.endedAt ??= performance.now();
  }

  /** Records what went wrong and drops the connection: nothing after it could be trusted. */
  protected onProtocolError(what: string): void {
    this.protocolErrors.push(what);
    this.socket.destroy();
  }

  private dispatched(name: string): SseEvent {
    const published = this.movedNow;
    this.movedNow = false;
    const event = {
      event: name,
      id: this.eventIdText,
      data: name === 'message' && !this.keepMessageData && !published ? '' : this.dataLines.join('\n'),
      at: performance.now(),
    };
    this.events.push(event);
    this.dataLines = [];
    this.dataPrefix = undefined;
    return event;
  }

  private countMessage(): void {
    this.messages++;
    const match = MESSAGE_PREFIX.exec(this.dataPrefix ?? '');
    const eventId = this.eventIdText;
    const seq = Number(eventId?.split('.')[0]);
    if (eventId === undefined || !Number.isSafeInteger(seq) || !match || Number(match[2]) !== seq) {
      return this.fail(`malformed message event: id ${eventId}, data ${this.dataPrefix?.slice(0, 80)}`);
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
}
