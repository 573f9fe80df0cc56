import type { Redis } from 'ioredis';
import { BoundedRedis } from './bounded-redis.js';

/** What the lock lib logs through; Nest's `Logger` fits. */
export interface LockLogger {
  debug(message: string): void;
  warn(message: string): void;
}

export const SILENT_LOGGER: LockLogger = { debug: () => undefined, warn: () => undefined };

export interface RedisClientOptions {
  /** Bound on every command; a Redis that does not answer in time is an error, never a hang. */
  commandTimeoutMs: number;
  /** Connection name shown by `CLIENT LIST`. */
  name: string;
  logger?: LockLogger;
}

/** Bound on one TCP connect attempt. */
export const CONNECT_TIMEOUT_MS = 2000;
/** Reconnection delay cap: a Redis that comes back is used again within this. */
export const MAX_RECONNECT_DELAY_MS = 500;
/** How long `connectRedis` waits for the first 'ready'. */
export const CONNECT_WAIT_MS = 3000;

/** How long a connection with replies outstanding may stay silent before it is dropped. */
export function socketTimeoutMs(commandTimeoutMs: number): number {
  return Math.max(1000, commandTimeoutMs * 2);
}

/**
 * An ioredis client that fails fast while Redis is unreachable (no offline queue, no resend after a
 * reconnect, bounded command and connect times) and keeps reconnecting in the background.
 * It starts connecting at once; await `connectRedis(client)` before relying on it.
 */
export function createRedisClient(url: string, options: RedisClientOptions): Redis {
  const logger = options.logger ?? SILENT_LOGGER;
  const timeouts = { commandMs: options.commandTimeoutMs, socketMs: socketTimeoutMs(options.commandTimeoutMs) };
  // Both timeouts are BoundedRedis's, which counts only time Redis had to answer in (not a stall
  // of this process's event loop); a hung server gets its socket dropped and reconnected.
  const client = BoundedRedis.connect(
    url,
    {
      connectionName: options.name.replace(/\s+/g, '-'),
      enableOfflineQueue: false,
      // With no offline queue nothing waits for a reconnect; 0 also fails commands that were in
      // flight when the connection dropped, instead of keeping them for a retry.
      maxRetriesPerRequest: 0,
      // A command the caller already saw time out must not run later (a late lock acquisition).
      autoResendUnfulfilledCommands: false,
      connectTimeout: CONNECT_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(50 * 2 ** (attempt - 1), MAX_RECONNECT_DELAY_MS),
    },
    timeouts,
  );
  // Callers see each failure on their own command; these events only repeat them.
  client.on('error', (error: Error) => logger.debug(`redis ${options.name}: ${error.message}`));
  return client;
}

/** Resolves once `client` is ready; rejects within `timeoutMs` with a message naming the server. */
export async function connectRedis(client: Redis, timeoutMs = CONNECT_WAIT_MS): Promise<void> {
  if (client.status === 'ready') return;
  let lastError: Error | undefined;
  const fail = (why: string) =>
    new Error(
      `Cannot connect to Redis at ${redisAddress(client)}: ${lastError ? lastError.message : why}`,
      lastError ? { cause: lastError } : undefined,
    );
  if (client.status === 'end') throw fail('the client is closed');
  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error) => (lastError = error);
    const onReady = () => {
      cleanup();
      resolve();
    };
    const onEnd = () => {
      cleanup();
      reject(fail('the client was closed'));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(fail(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      client.off('error', onError).off('ready', onReady).off('end', onEnd);
    };
    client.on('error', onError).once('ready', onReady).once('end', onEnd);
  });
}

/** `redis://host:port/db` of a client, without credentials. */
export function redisAddress(client: Redis): string {
  const { host, port, db, path, tls } = client.options;
  if (path) return `unix://${path}`;
  return `${tls ? 'rediss' : 'redis'}://${host}:${port}${db ? `/${db}` : ''}`;
}

/** Closes `client` politely when it can, at once when it cannot; resolves once it is closed. Never throws. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'end') return;
  if (client.status === 'reconnecting' || client.status === 'wait') {
    // No socket to close: this only cancels the pending reconnection.
    client.disconnect();
    return;
  }
  const ended = new Promise<void>((done) => {
    const timer = setTimeout(done, 1000);
    timer.unref();
    client.once('end', () => {
      clearTimeout(timer);
      done();
    });
  });
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect());
  } else {
    client.disconnect();
  }
  await ended;
}
