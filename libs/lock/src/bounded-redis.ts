import { type Command, Redis, type RedisOptions } from 'ioredis';
import type { ReplyMappingFromOptions } from 'ioredis/built/types.js';

/** How long a command and a connection may wait for Redis. */
export interface RedisTimeouts {
  /** A command not answered this long after it was sent fails. */
  readonly commandMs: number;
  /** A connection that awaits replies and receives nothing for this long is dropped (and reconnected). */
  readonly socketMs: number;
}

/** ioredis options of a client with ioredis's default ("legacy") reply shapes. */
type ClientOptions = RedisOptions & { replyMapping?: 'legacy' };

const ARMED = Symbol('bounded-redis.armed');
type TimedCommand = Command & { [ARMED]?: true };

/**
 * An ioredis client whose command and socket timeouts count only time Redis had to answer in.
 *
 * After the event loop was blocked (a GC pause, a burst of work, a starved CPU), Node runs the
 * expired timers before it reads its sockets, so a timeout measured by a plain timer — ioredis's
 * `commandTimeout` and `socketTimeout` — fails commands whose replies are already waiting unread,
 * and drops a connection that was answering all along. Here a timer that finds its command (or
 * its connection) still waiting gives the loop one turn to read its sockets (`setImmediate` runs
 * after the poll phase) and fails only what is still unanswered then. A Redis that does not answer
 * still fails each command after `commandMs`, and loses its connection after `socketMs` of silence.
 *
 * Create it with `BoundedRedis.connect`; give ioredis no `commandTimeout` or `socketTimeout` of its own.
 */
export class BoundedRedis extends Redis {
  #timeouts: RedisTimeouts = { commandMs: Number.POSITIVE_INFINITY, socketMs: Number.POSITIVE_INFINITY };
  /** The connection whose incoming data is watched. */
  #watched: Redis['stream'] | undefined;
  /** When data last came in, and since when replies have been awaited (monotonic ms). */
  #heardAt = 0;
  #awaitingSince = 0;
  /** A silence check (timer or immediate) is pending. */
  #silenceChecked = false;

  /** A client of `url` (ioredis `options`, without its own timeouts) that starts connecting at once. */
  static connect(url: string, options: ClientOptions, timeouts: RedisTimeouts): BoundedRedis {
    return new BoundedRedis(url, options).#bound(timeouts);
  }

  /** A new client with the same options and timeouts (ioredis's own would have no timeouts). */
  override duplicate<Override extends Partial<RedisOptions> | undefined = undefined>(
    override?: Override,
  ): Redis<ReplyMappingFromOptions<'legacy', Override>> {
    const copy = new BoundedRedis({ ...this.options, ...override } as ClientOptions).#bound(this.#timeouts);
    // ioredis applies an overridden `replyMapping` at run time; only the static type differs.
    return copy as unknown as Redis<ReplyMappingFromOptions<'legacy', Override>>;
  }

  /** @ignore ioredis sends every command (pipelined ones too) through here. */
  override sendCommand(command: TimedCommand, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    const wasAwaiting = this.commandQueue.length > 0;
    const sent = super.sendCommand(command, stream);
    // Rejected at once (not connected) or already timed: nothing to bound.
    if (command.isSettled || command[ARMED]) return sent;
    command[ARMED] = true;
    this.#expireUnanswered(command);
    if (this.commandQueue.length > 0) {
      if (!wasAwaiting) this.#awaitingSince = performance.now();
      this.#watchSilence();
    }
    return sent;
  }

  #bound(timeouts: RedisTimeouts): this {
    this.#timeouts = timeouts;
    return this;
  }

  #expireUnanswered(command: Command): void {
    const timer = setTimeout(() => {
      if (command.isSettled) return;
      // Its reply may be in the socket, unread because the loop was busy past the deadline.
      setImmediate(() => {
        if (!command.isSettled) command.reject(new Error('Command timed out'));
      });
    }, this.#timeouts.commandMs);
    const clear = () => clearTimeout(timer);
    command.promise.then(clear, clear);
  }

  #watchSilence(): void {
    const stream = this.stream;
    if (this.#watched !== stream) {
      this.#watched = stream;
      stream.on('data', this.#heard);
    }
    if (!this.#silenceChecked) this.#armSilence(this.#timeouts.socketMs);
  }

  readonly #heard = (): void => {
    this.#heardAt = performance.now();
  };

  #armSilence(delayMs: number): void {
    this.#silenceChecked = true;
    // The socket it watches keeps the process alive while replies are awaited.
    setTimeout(() => this.#checkSilence(false), delayMs).unref();
  }

  /** How long the connection has awaited replies without hearing anything; undefined when it awaits none. */
  #silentMs(): number | undefined {
    const stream = this.stream;
    if (stream !== this.#watched || stream.destroyed || this.commandQueue.length === 0) return undefined;
    return performance.now() - Math.max(this.#heardAt, this.#awaitingSince);
  }

  #checkSilence(afterRead: boolean): void {
    this.#silenceChecked = false;
    const silentMs = this.#silentMs();
    if (silentMs === undefined) return;
    const leftMs = this.#timeouts.socketMs - silentMs;
    if (leftMs > 0) return this.#armSilence(leftMs);
    if (!afterRead) {
      // As for a command: read what may have arrived while the loop was busy, then decide.
      this.#silenceChecked = true;
      setImmediate(() => this.#checkSilence(true));
      return;
    }
    this.stream.destroy(new Error(`Socket timeout: no reply from Redis in ${this.#timeouts.socketMs} ms`));
  }
}
