import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { mintUserToken, testAuthSecret } from '@app/testing';
import { Histogram, type Percentiles, round } from './histogram.js';
import { setReceiveBuffer } from '../support/kernel-sockets.js';
import { LinkRate } from '../support/link-rate.js';
import { SseScanner } from '../support/sse-scanner.js';

/** A (user, profile) pair bound in base. */
export interface Pair {
  readonly userId: string;
  readonly profileId: string;
}

export const READER_KINDS = ['fast', 'slow', 'stalled'] as const;
/** fast: reads everything at once; slow: reads at `slowKBps`; stalled: stops reading after its first event. */
export type ReaderKind = (typeof READER_KINDS)[number];

export interface LoadOptions {
  /** Origins to open `/stream/:userId/:profileId` on (the gateway, or stream instances round robin). Loopback only. */
  readonly targets: readonly string[];
  /** Distinct bound pairs; stream i uses pair i (cycling only when streams are short-lived, `holdSeconds` finite). */
  readonly pairs: readonly Pair[];
  /** Streams to open in all. */
  readonly streams: number;
  /** Ramp-up: `clients` more every `everySeconds` until `streams` were started. */
  readonly ramp: { readonly clients: number; readonly everySeconds: number };
  /** Length of the whole run from the first connection; everything is closed then. */
  readonly durationSeconds: number;
  /** Progress interval. */
  readonly intervalSeconds: number;
  /** Percentages of each reader kind (sum 100). */
  readonly mix: Readonly<Record<ReaderKind, number>>;
  /** Read rate of slow readers, KB/s (1 KB = 1000 bytes). */
  readonly slowKBps: number;
  /** SO_RCVBUF of slow readers' sockets (the window of a slow link); default: the kernel's autotuned buffer. */
  readonly slowReceiveBufferBytes?: number;
  /** Keep every slow reader's event age for `drainSlowAges()` (a caller measuring windows of the run). */
  readonly keepSlowAges?: boolean;
  /** A stalled reader stops reading this long after its first event… */
  readonly stallAfterSeconds: number;
  /** …and resumes this much later (Infinity: never). */
  readonly stallForSeconds: number;
  /** Each stream is closed by the client this long after its first event (Infinity: at the end; 0: at once). */
  readonly holdSeconds: number;
  /** Local addresses the client sockets are spread over (`localAddress`); empty: the kernel picks. */
  readonly sourceAddresses: readonly string[];
  /** Handshakes (connect … first event or refusal) in flight at most. */
  readonly connectConcurrency: number;
  /** A stream without a response head this long after connecting counts as a timeout. */
  readonly handshakeTimeoutSeconds: number;
  /** Events per second each stream should carry, to report delivered rates as a fraction (optional). */
  readonly expectedEventsPerSecond?: number;
  /** Called after every interval with that interval's figures. */
  readonly onInterval?: (sample: IntervalSample) => void;
  /**
   * Each stream sends `Authorization: Bearer <token>` for its pair's user, minted (HS256) from this
   * secret before the run starts. Default: the `AUTH_JWT_SECRET` of the environment; `null`: no token.
   */
  readonly authSecret?: string | null;
}

/** One progress interval. Rates are per second over the interval. */
export interface IntervalSample {
  /** Seconds since the run started, at the end of the interval. */
  t: number;
  live: number;
  started: number;
  newPerSecond: number;
  /** Refusals in this interval, by HTTP status (and `error:<code>` for connection failures). */
  refused: Record<string, number>;
  eventsPerSecond: number;
  mbPerSecond: number;
  /** `seq` gaps seen in this interval: events the server dropped. */
  drops: number;
  /** Time to first event of the streams that got it in this interval, ms. */
  ttfe: Percentiles;
  /** now − event timestamp of fast readers' events in this interval, ms. */
  latency: Percentiles;
  rssBytes: number;
}

/**
 * What readers went through: each stream keeps its own (0 or 1 for started, streaming and live),
 * a reader kind's are the sum of its streams', and a window of a run is the difference of two.
 */
export class Counters {
  started = 0;
  streaming = 0;
  live = 0;
  messages = 0;
  bytes = 0;
  gaps = 0;
  disorders = 0;
  heartbeats = 0;

  /** Adds `other`'s counts to these; returns these. */
  add(other: Counters): this {
    for (const key of COUNTER_KEYS) this[key] += other[key];
    return this;
  }

  /** These counts less an earlier reading's: what happened since. */
  since(earlier: Counters): Counters {
    const delta = new Counters().add(this);
    for (const key of COUNTER_KEYS) delta[key] -= earlier[key];
    return delta;
  }
}
type CounterKey = Exclude<keyof Counters, 'add' | 'since'>;
const COUNTER_KEYS = Object.keys(new Counters()) as CounterKey[];
/** The counts alone, as results carry them. */
export type CounterValues = Pick<Counters, CounterKey>;

export interface KindResult extends CounterValues {
  /** Delivery latency (now − event timestamp), ms. */
  latency: Percentiles;
  /** Events per second received per stream, between its first and its last event. */
  eventsPerStreamPerSecond: Percentiles;
  /** Of the events generated for these streams (last seq), the fraction received (1 − gaps ÷ last seq). */
  deliveredFraction: number;
  /** Received rate ÷ `expectedEventsPerSecond`, median and worst stream (when the rate is known). */
  rateFraction?: { p50: number; min: number };
}

export interface LoadResult {
  startedAt: string;
  durationSeconds: number;
  options: Omit<LoadOptions, 'pairs' | 'onInterval' | 'authSecret'> & { pairs: number; authorized: boolean };
  totals: {
    started: number;
    /** Got a `text/event-stream` answer. */
    streaming: number;
    /** Got their first event. */
    firstEvents: number;
    maxLive: number;
    refused: Record<string, number>;
    /** Refusals by `status code` as the JSON body named them. */
    refusedCodes: Record<string, number>;
    errors: Record<string, number>;
    /** Streams the server ended, by the last named event before the end (`lock-lost`, `reconnect`) or `end`/`reset`. */
    closedByServer: Record<string, number>;
    messages: number;
    bytes: number;
    gaps: number;
    disorders: number;
    protocolErrors: number;
  };
  ttfe: Percentiles;
  kinds: Record<ReaderKind, KindResult>;
  loadgen: { rssPeakBytes: number; rssEndBytes: number; cpuSeconds: number; openFilesLimit: string };
  series: IntervalSample[];
  notes: string[];
}

const SHARED_READ_BUFFER_BYTES = 64 * 1024;
/** Every socket reads into this one buffer (`onread`): reading allocates nothing per stream or per read. */
const readBuffer = Buffer.allocUnsafe(SHARED_READ_BUFFER_BYTES);
const SLOW_TICK_MS = 100;

const enum State {
  Queued,
  Connecting,
  Streaming,
  Closed,
}

class Stream extends SseScanner {
  socket: Socket | undefined = undefined;
  state = State.Queued;
  readonly counts = new Counters();
  startedAt = 0;
  firstEventAt = 0;
  firstMessageAt = 0;
  lastMessageAt = 0;
  lastSeq = 0;
  /** Bytes the slow reader may still read before pausing. */
  budget = 0;
  paused = false;
  stalled = false;
  lastNamedEvent = '';
  errorCode = '';
  bodyEnded = false;
  closedByUs = false;
  /** Counted in the generator's handshakes in flight until the first event, a refusal or the close. */
  handshaking = false;

  constructor(
    readonly gen: LoadGenerator,
    readonly index: number,
    readonly kind: ReaderKind,
    /** The kind's latency histogram. */
    readonly latency: Histogram,
  ) {
    super();
  }

  protected onHead(_status: number, isSse: boolean): void {
    if (isSse) {
      this.state = State.Streaming;
      this.counts.streaming = 1;
      this.counts.live = 1;
      this.gen.streamingNow(this);
    }
  }

  protected onMessage(id: number, timestamp: number): void {
    if (this.firstEventAt === 0) this.gen.firstEvent(this);
    const now = performance.now();
    const counts = this.counts;
    if (counts.messages === 0) this.firstMessageAt = now;
    this.lastMessageAt = now;
    counts.messages++;
    if (id > this.lastSeq) {
      const gap = id - this.lastSeq - 1;
      if (gap > 0) {
        counts.gaps += gap;
        this.gen.interval.drops += gap;
      }
      this.lastSeq = id;
    } else {
      counts.disorders++;
    }
    if (timestamp === timestamp) {
      const latency = Date.now() - timestamp;
      this.latency.record(latency);
      if (this.kind === 'fast') this.gen.interval.latency.record(latency);
      else if (this.kind === 'slow') this.gen.slowAge(latency);
    }
  }

  protected onNamedEvent(name: string): void {
    this.lastNamedEvent = name;
    if (this.firstEventAt === 0) this.gen.firstEvent(this);
  }

  protected onComment(): void {
    this.counts.heartbeats++;
  }

  protected onEnd(refusalBody: string): void {
    this.bodyEnded = true;
    if (!this.isSse) this.gen.refused(this, refusalBody);
    this.socket?.destroy();
  }

  protected onProtocolError(what: string): void {
    this.gen.protocolError(this, what);
    this.socket?.destroy();
  }

  /** `onread` callback: false pauses the socket (a slow reader out of budget). */
  read(bytes: number): boolean {
    this.counts.bytes += bytes;
    this.gen.interval.bytes += bytes;
    this.feed(readBuffer, 0, bytes);
    if (this.kind === 'slow') {
      this.budget -= bytes;
      if (this.budget <= 0 && this.state === State.Streaming) {
        this.paused = true;
        return false;
      }
    }
    return true;
  }
}

/** What accumulates between two progress lines. */
class IntervalStats {
  opened = 0;
  bytes = 0;
  messages = 0;
  drops = 0;
  refused: Record<string, number> = {};
  readonly ttfe = new Histogram();
  readonly latency = new Histogram();
}

/**
 * Holds N SSE streams over raw `net` sockets: ramps them up, reads them as fast, slow or stalled
 * readers, counts events, bytes, `seq` gaps, time to first event and delivery latency, and ends
 * everything after `durationSeconds`. One process holds ≈ 15k streams in well under 300 MB: each
 * stream is one socket plus one small object, all sockets read into one shared buffer, and
 * latencies go into fixed-size histograms.
 */
export class LoadGenerator {
  readonly interval = new IntervalStats();
  /** Delivery latency per reader kind. */
  private readonly latencies: Record<ReaderKind, Histogram> = {
    fast: new Histogram(),
    slow: new Histogram(),
    stalled: new Histogram(),
  };
  private readonly streams: Stream[] = [];
  private readonly slowStreams: Stream[] = [];
  private readonly slowAges: number[] = [];
  private readonly ttfe = new Histogram();
  private readonly series: IntervalSample[] = [];
  private readonly refusedTotal: Record<string, number> = {};
  private readonly refusedCodes: Record<string, number> = {};
  private readonly errors: Record<string, number> = {};
  private readonly closedByServer: Record<string, number> = {};
  private readonly notes: string[] = [];
  private readonly targets: { host: string; port: number; hostHeader: string }[];
  private readonly kindPattern: ReaderKind[];
  private queue: Stream[] = [];
  private queueHead = 0;
  private nextIndex = 0;
  private inFlight = 0;
  private live = 0;
  private maxLive = 0;
  private firstEvents = 0;
  /** Handshakes over: first event, refusal or failure. */
  private settled = 0;
  private protocolErrors = 0;
  private startedAtMs = 0;
  private startedAtIso = '';
  private lastIntervalAt = 0;
  private rssPeak = 0;
  private cpuStart: NodeJS.CpuUsage | undefined;
  private timers: NodeJS.Timeout[] = [];
  private finished: Promise<LoadResult> | undefined;
  private resolveDone: ((result: LoadResult) => void) | undefined;
  private stopping = false;
  /** The `Authorization` header line of each pair's user (empty without a secret). */
  private readonly authLines = new Map<string, string>();
  private readonly authSecret: string | undefined;
  private prepared: Promise<void> | undefined;
  /** The slow readers' link (`slowKBps`); refilled every SLOW_TICK_MS, by the time that really passed. */
  private slowLink: LinkRate | undefined;

  constructor(private readonly options: LoadOptions) {
    validateOptions(options);
    this.targets = options.targets.map((origin) => {
      const url = new URL(origin);
      const host = url.hostname === 'localhost' ? '127.0.0.1' : url.hostname.replace(/^\[|\]$/g, '');
      return { host, port: Number(url.port || 80), hostHeader: url.host };
    });
    this.authSecret = options.authSecret === null ? undefined : (options.authSecret ?? testAuthSecret());
    // Kinds interleave evenly and exactly: in every 100 consecutive streams each kind has its percentage.
    this.kindPattern = Array.from({ length: 100 }, (_, i) => {
      const slot = (i * 37) % 100;
      return slot < options.mix.fast ? 'fast' : slot < options.mix.fast + options.mix.slow ? 'slow' : 'stalled';
    });
  }

  /** Mints every pair's user token once, so signing never competes with the handshakes it measures. */
  private async mintTokens(): Promise<void> {
    if (!this.authSecret) return;
    for (const { userId } of this.options.pairs) {
      if (this.authLines.has(userId)) continue;
      const token = await mintUserToken(userId, { secret: this.authSecret, ttlSeconds: MAX_DURATION_SECONDS + 3600 });
      this.authLines.set(userId, `Authorization: Bearer ${token}\r\n`);
    }
  }

  /** Runs to the end (or `stop()`) and resolves with the result. */
  run(): Promise<LoadResult> {
    this.prepared ??= this.mintTokens();
    this.finished ??= this.prepared.then(() => this.start());
    return this.finished;
  }

  private start(): Promise<LoadResult> {
    return new Promise<LoadResult>((resolve) => {
      this.resolveDone = resolve;
      // stop() was called while the tokens were minted: end at once, having opened nothing.
      if (this.stopping) return void this.finishNow();
      this.startedAtMs = performance.now();
      this.lastIntervalAt = this.startedAtMs;
      this.startedAtIso = new Date().toISOString();
      this.cpuStart = process.cpuUsage();
      const { ramp, intervalSeconds, durationSeconds } = this.options;
      this.addClients(ramp.clients);
      if (this.nextIndex < this.options.streams) {
        this.timers.push(
          setInterval(() => {
            this.addClients(ramp.clients);
            if (this.nextIndex >= this.options.streams) clearInterval(this.timers[0]);
          }, ramp.everySeconds * 1000),
        );
      }
      this.timers.push(setInterval(() => this.tick(), intervalSeconds * 1000));
      if (this.options.mix.slow > 0) {
        this.slowLink = new LinkRate(this.options.slowKBps * 1000, 500);
        this.timers.push(setInterval(() => this.refillSlowReaders(), SLOW_TICK_MS));
      }
      this.timers.push(setTimeout(() => void this.stop(), durationSeconds * 1000));
    });
  }

  /**
   * Starts the run (see run()) and resolves once `count` streams (default all) have had their
   * first event and are live, or after `timeoutMs`: to how many streams are live then.
   */
  async runUntilStreaming(timeoutMs: number, count = this.options.streams): Promise<number> {
    void this.run();
    const deadline = performance.now() + timeoutMs;
    while (!(this.firstEvents >= count && this.live >= count) && performance.now() <= deadline) {
      await new Promise((done) => setTimeout(done, 100));
    }
    return this.live;
  }

  /** Ends the run now: stops opening, closes every stream, resolves `run()`. */
  async stop(): Promise<LoadResult> {
    if (!this.finished) throw new Error('not running');
    if (!this.stopping) {
      this.stopping = true;
      if (this.resolveDone) await this.finishNow();
    }
    return this.finished;
  }

  private async finishNow(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.tick();
    const closing = this.streams.filter((stream) => stream.socket && stream.state !== State.Closed);
    const closed = closing.map((stream) => new Promise<void>((done) => stream.socket!.once('close', () => done())));
    for (const stream of closing) this.close(stream);
    await Promise.all(closed);
    this.resolveDone!(this.result());
  }

  /** Counters so far, per kind (for a caller that measures a window of the run). */
  snapshot(): Record<ReaderKind, Counters> & {
    live: number;
    firstEvents: number;
    settled: number;
    started: number;
  } {
    return {
      ...this.countsByKind(),
      live: this.live,
      firstEvents: this.firstEvents,
      settled: this.settled,
      started: this.nextIndex,
    };
  }

  /** Each reader kind's counters: the sums of its streams'. */
  private countsByKind(): Record<ReaderKind, Counters> {
    const sums = { fast: new Counters(), slow: new Counters(), stalled: new Counters() };
    for (const stream of this.streams) sums[stream.kind].add(stream.counts);
    return sums;
  }

  /** Per-stream counters of the streams of `kind` that got a first event, at this moment. */
  streamCounters(kind: ReaderKind): { messages: number; lastSeq: number; gaps: number; live: boolean }[] {
    return this.streams
      .filter((stream) => stream.kind === kind && stream.firstEventAt > 0)
      .map((stream) => ({
        messages: stream.counts.messages,
        lastSeq: stream.lastSeq,
        gaps: stream.counts.gaps,
        live: stream.state === State.Streaming,
      }));
  }

  /** Delivery latency p99 of fast readers in each of the last `intervals` progress intervals (those with events). */
  recentLatencyP99(intervals: number): number[] {
    return this.series
      .slice(-intervals)
      .map((sample) => sample.latency.p99)
      .filter((value) => Number.isFinite(value));
  }

  /** The ages (ms) of the events slow readers received since the last call (with `keepSlowAges`). */
  drainSlowAges(): number[] {
    return this.slowAges.splice(0);
  }

  slowAge(ms: number): void {
    if (this.options.keepSlowAges) this.slowAges.push(ms);
  }

  /** Streams currently stalled (stopped reading on purpose). */
  get stalledNow(): number {
    let count = 0;
    for (const stream of this.streams) if (stream.stalled && stream.state === State.Streaming) count++;
    return count;
  }

  // --- called by streams ---------------------------------------------------------------------

  streamingNow(stream: Stream): void {
    if (stream.kind === 'slow') stream.budget = this.options.slowKBps * SLOW_TICK_MS;
    this.live++;
    if (this.live > this.maxLive) this.maxLive = this.live;
  }

  firstEvent(stream: Stream): void {
    const now = performance.now();
    stream.firstEventAt = now;
    stream.socket?.setTimeout(0);
    this.firstEvents++;
    const ttfe = now - stream.startedAt;
    this.ttfe.record(ttfe);
    this.interval.ttfe.record(ttfe);
    this.interval.opened++;
    this.handshakeDone(stream);
    const { holdSeconds, stallAfterSeconds, stallForSeconds } = this.options;
    if (stream.kind === 'stalled') {
      const stall = () => {
        if (stream.state !== State.Streaming) return;
        stream.stalled = true;
        stream.socket?.pause();
        if (Number.isFinite(stallForSeconds)) {
          setTimeout(() => {
            stream.stalled = false;
            if (stream.state === State.Streaming) stream.socket?.resume();
          }, stallForSeconds * 1000).unref();
        }
      };
      if (stallAfterSeconds === 0) stall();
      else setTimeout(stall, stallAfterSeconds * 1000).unref();
    }
    if (holdSeconds === 0) queueMicrotask(() => this.close(stream));
    else if (Number.isFinite(holdSeconds)) setTimeout(() => this.close(stream), holdSeconds * 1000).unref();
  }

  refused(stream: Stream, body: string): void {
    const status = String(stream.status);
    count(this.refusedTotal, status);
    count(this.interval.refused, status);
    let code = '';
    try {
      code = String((JSON.parse(body) as { code?: unknown }).code ?? '');
    } catch {
      // not JSON
    }
    count(this.refusedCodes, code ? `${status} ${code}` : status);
    this.handshakeDone(stream);
  }

  protocolError(stream: Stream, what: string): void {
    this.protocolErrors++;
    if (this.notes.length < 10) this.notes.push(`stream ${stream.index}: ${what}`);
  }

  // --- internals -----------------------------------------------------------------------------

  private addClients(count: number): void {
    const { streams, pairs, holdSeconds } = this.options;
    const end = Math.min(streams, this.nextIndex + count);
    for (; this.nextIndex < end; this.nextIndex++) {
      const index = this.nextIndex;
      if (index >= pairs.length && !Number.isFinite(holdSeconds)) break;
      const kind = this.kindPattern[index % 100]!;
      const stream = new Stream(this, index, kind, this.latencies[kind]);
      this.streams.push(stream);
      if (kind === 'slow') this.slowStreams.push(stream);
      this.queue.push(stream);
    }
    this.pump();
  }

  private pump(): void {
    const { connectConcurrency } = this.options;
    while (this.inFlight < connectConcurrency && this.queueHead < this.queue.length && !this.stopping) {
      const stream = this.queue[this.queueHead++]!;
      this.inFlight++;
      stream.handshaking = true;
      this.open(stream);
    }
    if (this.queueHead === this.queue.length && this.queueHead > 0) {
      this.queue = [];
      this.queueHead = 0;
    }
  }

  private handshakeDone(stream: Stream): void {
    if (!stream.handshaking) return;
    stream.handshaking = false;
    this.settled++;
    this.inFlight--;
    this.pump();
  }

  private open(stream: Stream): void {
    const { pairs, sourceAddresses, handshakeTimeoutSeconds } = this.options;
    const target = this.targets[stream.index % this.targets.length]!;
    const pair = pairs[stream.index % pairs.length]!;
    const localAddress = sourceAddresses.length ? sourceAddresses[stream.index % sourceAddresses.length] : undefined;
    stream.state = State.Connecting;
    stream.startedAt = performance.now();
    stream.counts.started = 1;
    const socket = connect({
      host: target.host,
      port: target.port,
      localAddress,
      noDelay: true,
      onread: { buffer: readBuffer, callback: (bytes: number) => stream.read(bytes) },
    });
    stream.socket = socket;
    socket.setTimeout(handshakeTimeoutSeconds * 1000, () => {
      stream.errorCode ||= 'TIMEOUT';
      socket.destroy();
    });
    socket.once('connect', () => {
      if (stream.kind === 'slow' && this.options.slowReceiveBufferBytes) {
        setReceiveBuffer(socket, this.options.slowReceiveBufferBytes);
      }
      socket.write(
        `GET /stream/${pair.userId}/${pair.profileId} HTTP/1.1\r\nHost: ${target.hostHeader}\r\n` +
          // Refusals as their status and JSON (409, 503 …), as the web client takes them.
          `Accept: text/event-stream, application/json\r\nCache-Control: no-cache\r\n${this.authLines.get(pair.userId) ?? ''}\r\n`,
      );
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      stream.errorCode ||= error.code ?? error.message;
    });
    socket.once('close', () => this.closed(stream));
  }

  private close(stream: Stream): void {
    if (stream.state === State.Closed || !stream.socket) return;
    stream.closedByUs = true;
    stream.socket.destroy();
  }

  private closed(stream: Stream): void {
    const wasState = stream.state;
    stream.state = State.Closed;
    stream.connectionClosed();
    if (wasState === State.Streaming) {
      this.live--;
      stream.counts.live = 0;
      if (!stream.closedByUs) {
        const reason = ['lock-lost', 'reconnect'].includes(stream.lastNamedEvent)
          ? stream.lastNamedEvent
          : stream.bodyEnded
            ? 'end'
            : stream.errorCode || 'reset';
        count(this.closedByServer, reason);
      }
    }
    if (stream.handshaking) {
      if (stream.status !== 0 && !stream.isSse) {
        // A refusal whose body did not arrive complete.
        this.refused(stream, '');
      } else if (!stream.closedByUs || stream.errorCode) {
        const reason =
          stream.errorCode || (stream.status === 0 ? 'closed-before-response' : 'closed-before-first-event');
        count(this.errors, reason);
        count(this.interval.refused, `error:${reason}`);
      }
      this.handshakeDone(stream);
    }
    // Free the socket and its buffers now; the stream keeps only its counters.
    stream.socket = undefined;
  }

  private refillSlowReaders(): void {
    // Every slow reader's link carried the same bytes since the last refill: credit them once.
    const link = this.slowLink!;
    const credit = link.refill(0);
    for (const stream of this.slowStreams) {
      if (stream.state !== State.Streaming) continue;
      // At most half a second's worth banked, so a slow reader never bursts like a fast one.
      stream.budget = Math.min(stream.budget + credit, link.bytesPerSecond / 2);
      if (stream.paused && stream.budget > 0) {
        stream.paused = false;
        stream.socket?.resume();
      }
    }
  }

  private tick(): void {
    const now = performance.now();
    const seconds = Math.max(0.001, (now - this.lastIntervalAt) / 1000);
    this.lastIntervalAt = now;
    const rss = process.memoryUsage.rss();
    if (rss > this.rssPeak) this.rssPeak = rss;
    const { interval } = this;
    let messages = 0;
    for (const stream of this.streams) messages += stream.counts.messages;
    const sample: IntervalSample = {
      t: round((now - this.startedAtMs) / 1000),
      live: this.live,
      started: this.nextIndex,
      newPerSecond: round(interval.opened / seconds),
      refused: interval.refused,
      eventsPerSecond: round((messages - interval.messages) / seconds),
      mbPerSecond: round(interval.bytes / seconds / 1e6),
      drops: interval.drops,
      ttfe: interval.ttfe.summary(),
      latency: interval.latency.summary(),
      rssBytes: rss,
    };
    this.series.push(sample);
    interval.opened = 0;
    interval.bytes = 0;
    interval.messages = messages;
    interval.drops = 0;
    interval.refused = {};
    interval.ttfe.reset();
    interval.latency.reset();
    this.options.onInterval?.(sample);
  }

  private result(): LoadResult {
    const cpu = process.cpuUsage(this.cpuStart);
    const { pairs: _pairs, onInterval: _onInterval, authSecret: _authSecret, ...options } = this.options;
    const kinds = {} as Record<ReaderKind, KindResult>;
    const byKind = this.countsByKind();
    const all = READER_KINDS.reduce((sum, kind) => sum.add(byKind[kind]), new Counters());
    for (const kind of READER_KINDS) {
      const rates = new Histogram();
      const fractions: number[] = [];
      let lastSeqs = 0;
      for (const stream of this.streams) {
        if (stream.kind !== kind || stream.firstEventAt === 0) continue;
        lastSeqs += stream.lastSeq;
        // The rate between the first and the last event received; streams with less than two
        // seconds of events say nothing about a rate.
        const seconds = (stream.lastMessageAt - stream.firstMessageAt) / 1000;
        if (stream.counts.messages < 3 || seconds < 2) continue;
        const rate = (stream.counts.messages - 1) / seconds;
        rates.record(rate);
        if (this.options.expectedEventsPerSecond) fractions.push(rate / this.options.expectedEventsPerSecond);
      }
      fractions.sort((a, b) => a - b);
      kinds[kind] = {
        ...byKind[kind],
        latency: this.latencies[kind].summary(),
        eventsPerStreamPerSecond: rates.summary(),
        deliveredFraction: round(lastSeqs ? 1 - byKind[kind].gaps / lastSeqs : Number.NaN),
        ...(fractions.length
          ? { rateFraction: { p50: round(fractions[Math.floor(fractions.length / 2)]!), min: round(fractions[0]!) } }
          : {}),
      };
    }
    const totals = {
      started: this.nextIndex,
      streaming: all.streaming,
      firstEvents: this.firstEvents,
      maxLive: this.maxLive,
      refused: this.refusedTotal,
      refusedCodes: this.refusedCodes,
      errors: this.errors,
      closedByServer: this.closedByServer,
      messages: all.messages,
      bytes: all.bytes,
      gaps: all.gaps,
      disorders: all.disorders,
      protocolErrors: this.protocolErrors,
    };
    return {
      startedAt: this.startedAtIso,
      durationSeconds: round((performance.now() - this.startedAtMs) / 1000),
      options: { ...options, pairs: this.options.pairs.length, authorized: this.authSecret !== undefined },
      totals,
      ttfe: this.ttfe.summary(),
      kinds,
      loadgen: {
        rssPeakBytes: this.rssPeak,
        rssEndBytes: process.memoryUsage.rss(),
        cpuSeconds: round((cpu.user + cpu.system) / 1e6),
        openFilesLimit: openFilesLimit(),
      },
      series: this.series,
      notes: this.notes,
    };
  }
}

function count(record: Record<string, number>, key: string): void {
  record[key] = (record[key] ?? 0) + 1;
}

/** Only loopback targets: this tool opens thousands of heavy streams and must never aim elsewhere. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function validateOptions(o: LoadOptions): void {
  const problems: string[] = [];
  if (o.targets.length === 0) problems.push('at least one target');
  for (const target of o.targets) {
    let url: URL | undefined;
    try {
      url = new URL(target);
    } catch {
      problems.push(`target ${target} is not a URL`);
    }
    if (url && (url.protocol !== 'http:' || !isLoopbackHost(url.hostname))) {
      problems.push(`target ${target} must be http:// on a loopback address (127.x.x.x, ::1, localhost)`);
    }
  }
  if (!Number.isInteger(o.streams) || o.streams < 1 || o.streams > MAX_STREAMS)
    problems.push(`streams must be 1–${MAX_STREAMS}`);
  if (o.pairs.length === 0) problems.push('no pairs to stream');
  else if (o.pairs.length < o.streams && !Number.isFinite(o.holdSeconds)) {
    problems.push(`${o.streams} streams need as many distinct pairs, only ${o.pairs.length} available`);
  }
  if (!(o.durationSeconds > 0 && o.durationSeconds <= MAX_DURATION_SECONDS))
    problems.push(`duration must be in (0, ${MAX_DURATION_SECONDS}] s`);
  if (!(o.intervalSeconds >= 0.1)) problems.push('interval must be ≥ 0.1 s');
  if (!(Number.isInteger(o.ramp.clients) && o.ramp.clients >= 1) || !(o.ramp.everySeconds > 0))
    problems.push('ramp must be C/T with C ≥ 1, T > 0');
  const sum = READER_KINDS.reduce((total, kind) => total + o.mix[kind], 0);
  if (READER_KINDS.some((kind) => !(o.mix[kind] >= 0)) || Math.abs(sum - 100) > 1e-9)
    problems.push('mix percentages must add up to 100');
  if (o.mix.slow > 0 && !(o.slowKBps > 0)) problems.push('slow readers need a rate > 0 KB/s');
  if (!(o.connectConcurrency >= 1)) problems.push('connect concurrency must be ≥ 1');
  for (const address of o.sourceAddresses)
    if (!isLoopbackHost(address)) problems.push(`source address ${address} is not loopback`);
  if (problems.length) throw new Error(`invalid load options: ${problems.join('; ')}`);
}

/** Upper bounds: the tool stops by itself and never opens more than this. */
export const MAX_STREAMS = 20_000;
export const MAX_DURATION_SECONDS = 3600;

/** `127.0.0.2` … `127.0.0.(count+1)`: spread over several sources, each has its own ≈ 28k ephemeral ports. */
export function loopbackSources(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${i + 2}`);
}

let cachedLimit: string | undefined;
/** The soft open-files limit of this process (`/proc/self/limits`), as text. */
export function openFilesLimit(): string {
  if (cachedLimit !== undefined) return cachedLimit;
  try {
    const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    cachedLimit = match ? `${match[1]} (hard ${match[2]})` : 'unknown';
  } catch {
    cachedLimit = 'unknown';
  }
  return cachedLimit;
}
