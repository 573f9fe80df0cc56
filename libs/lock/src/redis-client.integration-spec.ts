import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Redis } from 'ioredis';
import type { RedisServer } from '@app/testing';
import { freshPair, LockTestBed, sleep, TEST_COMMAND_TIMEOUT_MS } from './integration-support.js';
import { pairKeys } from './keys.js';
import { closeRedis, connectRedis, createRedisClient, socketTimeoutMs } from './redis-client.js';

const SOCKET_TIMEOUT_MS = socketTimeoutMs(TEST_COMMAND_TIMEOUT_MS);
/** A stall of the event loop longer than both timeouts (a GC pause, a burst of work, a starved CPU). */
const PAUSE_MS = SOCKET_TIMEOUT_MS + 500;
/** A lease that outlives the pause, renewed every second. */
const LEASE = { ttlMs: 5000, renewMs: 1000 };
/** Leeway for timers on a busy machine. */
const LATE_MS = 250;

/** Blocks the event loop: no timer runs and no socket is read meanwhile. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/** Counts the times `client`'s connection closes, and remembers when it last did. */
function watchCloses(client: Redis): { count: number; at: number } {
  const closes = { count: 0, at: 0 };
  client.on('close', () => {
    closes.count++;
    closes.at = performance.now();
  });
  return closes;
}

/**
 * Holds back the first write to `client`'s socket that contains `marker`, then, in the check
 * phase of the event loop (after it polled its sockets), sends it and calls `then` at once. A
 * stall that starts there is followed by the timers of the next turn, which run before the
 * sockets are polled again — as after a stall in any I/O callback.
 */
function afterWriteOf(client: Redis, marker: string, then: () => void): Promise<void> {
  const stream = client.stream;
  const write = stream.write;
  return new Promise((done) => {
    stream.write = function (this: typeof stream, ...args: Parameters<typeof write>) {
      if (!String(args[0]).includes(marker)) return write.apply(this, args);
      stream.write = write;
      setImmediate(() => {
        write.apply(this, args);
        then();
        done();
      });
      return true;
    } as typeof write;
  });
}

describe(createRedisClient.name, () => {
  describe('when the event loop stalls while Redis answers', () => {
    const bed = new LockTestBed();
    let server: RedisServer;

    before(async () => {
      server = await bed.server();
    });

    after(() => bed.dispose());

    it('keeps its commands, a lock renewal and its connection through a stall longer than the command and socket timeouts', async (t) => {
      const client = await bed.client(server.url, 'stalled');
      const lock = bed.lock([client], LEASE);
      const { userId, profileId } = freshPair();
      const held = await lock.acquire(userId, profileId, { pod: 'pod-a' });
      const idBefore = await client.client('ID');
      const streamBefore = client.stream;
      const closes = watchCloses(client);
      const key = `stall:${userId}`;

      // The next renewal round (one pipelined extension naming the lock key) goes out, plain
      // commands follow, and the loop stalls at once, before any answer can be read.
      let plain: Promise<PromiseSettledResult<unknown>[]> | undefined;
      let stalledAt = 0;
      await afterWriteOf(client, pairKeys(userId, profileId).lock, () => {
        plain = Promise.allSettled([client.set(key, 'v'), client.incr(`${key}:n`), client.get(key)]);
        stalledAt = performance.now();
        busyFor(PAUSE_MS);
      });
      const resumedAt = performance.now();
      const answers = await plain!;
      // The renewal's answers came before the plain ones on the connection; let its round finish.
      await sleep(50);
      t.diagnostic(
        `stalled ${(resumedAt - stalledAt).toFixed(0)} ms (command timeout ${TEST_COMMAND_TIMEOUT_MS} ms, socket timeout ${SOCKET_TIMEOUT_MS} ms); ` +
          `answers: ${answers.map((a) => (a.status === 'fulfilled' ? String(a.value) : (a.reason as Error).message)).join(', ')}; ` +
          `lock: ${held.lostReason ?? 'held'}; connection closed ${closes.count} time(s)`,
      );

      assert.deepEqual(answers, [
        { status: 'fulfilled', value: 'OK' },
        { status: 'fulfilled', value: 1 },
        { status: 'fulfilled', value: 'v' },
      ]);
      assert.equal(held.lostReason, undefined, 'the renewal answered during the stall counts');
      assert.ok(held.isValid());
      assert.equal(closes.count, 0, 'the connection was dropped');
      assert.equal(client.stream, streamBefore);
      assert.equal(await client.client('ID'), idBefore);
      await held.release();
    });
  });

  describe('when Redis hangs', () => {
    const bed = new LockTestBed();
    let server: RedisServer;
    let calm: Redis;
    let stalled: Redis;
    let copy: Redis;

    before(async () => {
      server = await bed.server();
      [calm, stalled] = await Promise.all([
        bed.client(server.url, 'hung-calm'),
        bed.client(server.url, 'hung-stalled'),
      ]);
      copy = calm.duplicate();
      await connectRedis(copy);
      process.kill(server.pid!, 'SIGSTOP');
    });

    after(async () => {
      if (server.pid !== undefined) process.kill(server.pid, 'SIGCONT');
      await closeRedis(copy);
      await bed.dispose();
    });

    it('fails a command after the command timeout and drops the connection after the socket timeout', async (t) => {
      const closes = watchCloses(calm);
      const sentAt = performance.now();
      await assert.rejects(calm.get('anything'), /timed out/);
      const failedMs = performance.now() - sentAt;
      await new Promise((done) => calm.once('close', done));
      const droppedMs = closes.at - sentAt;
      t.diagnostic(
        `command failed after ${failedMs.toFixed(0)} ms, connection dropped after ${droppedMs.toFixed(0)} ms`,
      );
      assert.ok(
        failedMs >= TEST_COMMAND_TIMEOUT_MS - 5 && failedMs < TEST_COMMAND_TIMEOUT_MS + LATE_MS,
        `${failedMs} ms`,
      );
      assert.ok(droppedMs >= SOCKET_TIMEOUT_MS - 5 && droppedMs < SOCKET_TIMEOUT_MS + LATE_MS, `${droppedMs} ms`);
    });

    it('fails a command and drops the connection as soon as the event loop resumes from a longer stall', async (t) => {
      const closes = watchCloses(stalled);
      // Sent, then the loop stalls in the same callback, as in the stall above.
      const { answer } = await new Promise<{ answer: Promise<{ error: Error; at: number }> }>((sent) =>
        setImmediate(() => {
          const answer = stalled.get('anything').then(
            () => assert.fail('a hung Redis answered'),
            (error: Error) => ({ error, at: performance.now() }),
          );
          busyFor(PAUSE_MS);
          sent({ answer });
        }),
      );
      const resumedAt = performance.now();
      const { error, at } = await answer;
      await new Promise((done) => (closes.count > 0 ? done(undefined) : stalled.once('close', done)));
      t.diagnostic(
        `after the stall: command failed in ${(at - resumedAt).toFixed(1)} ms (${error.message}), ` +
          `connection dropped in ${(closes.at - resumedAt).toFixed(1)} ms`,
      );
      assert.match(error.message, /timed out/);
      assert.ok(at - resumedAt < LATE_MS, `command failed ${at - resumedAt} ms after the stall`);
      assert.ok(closes.at - resumedAt < LATE_MS, `connection dropped ${closes.at - resumedAt} ms after the stall`);
    });

    it('gives a duplicate of the client the same timeouts', async () => {
      const sentAt = performance.now();
      await assert.rejects(copy.get('anything'), /timed out/);
      const failedMs = performance.now() - sentAt;
      assert.ok(
        failedMs >= TEST_COMMAND_TIMEOUT_MS - 5 && failedMs < TEST_COMMAND_TIMEOUT_MS + LATE_MS,
        `${failedMs} ms`,
      );
    });
  });
});
