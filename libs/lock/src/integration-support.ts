// Helpers for this lib's integration specs only (not exported from the barrel).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { AppError, type ErrorCode } from '@app/errors';
import { RedisServer } from '@app/testing';
import { type HeldLock, PairLock } from './pair-lock.js';
import { closeRedis, connectRedis, createRedisClient } from './redis-client.js';

export const TEST_TTL_MS = 1000;
export const TEST_RENEW_MS = 200;
export const TEST_COMMAND_TIMEOUT_MS = 300;
const TEST_LEASE = { ttlMs: TEST_TTL_MS, renewMs: TEST_RENEW_MS };

/** A connected fail-fast client, as the module would build it. */
export async function connectedClient(url: string, name = 'lock-test'): Promise<Redis> {
  const client = createRedisClient(url, { commandTimeoutMs: TEST_COMMAND_TIMEOUT_MS, name });
  await connectRedis(client);
  return client;
}

/**
 * What a spec starts against real Redis — private redis-servers, connected clients, PairLocks —
 * stopped again by one `dispose()`, last started first: locks are released before their clients
 * quit, and clients quit before their servers go.
 */
export class LockTestBed {
  private readonly teardown: (() => Promise<unknown>)[] = [];

  /** `count` private, empty redis-servers. */
  async servers(count: number): Promise<RedisServer[]> {
    const servers = await Promise.all(Array.from({ length: count }, () => RedisServer.start()));
    this.teardown.push(() => Promise.all(servers.map((server) => server.dispose())));
    return servers;
  }

  async server(): Promise<RedisServer> {
    return (await this.servers(1))[0]!;
  }

  /** A connected fail-fast client of `url` (see `connectedClient`). */
  async client(url: string, name?: string): Promise<Redis> {
    const client = await connectedClient(url, name);
    this.teardown.push(() => closeRedis(client));
    return client;
  }

  /** One client of each server, named `${name}-${index}`. */
  clients(servers: readonly RedisServer[], name: string): Promise<Redis[]> {
    return Promise.all(servers.map((server, i) => this.client(server.url, `${name}-${i}`)));
  }

  /** A private server, a client of it named `name`, and a PairLock over that one client. */
  async lockOnOwnServer(name: string): Promise<{ server: RedisServer; client: Redis; lock: PairLock }> {
    const server = await this.server();
    const client = await this.client(server.url, name);
    return { server, client, lock: this.lock([client]) };
  }

  /** A PairLock over `lockClients` with the test lease (or `lease`); what it still holds is released at the end. */
  lock(lockClients: Redis[], lease: { ttlMs: number; renewMs: number } = TEST_LEASE): PairLock {
    const lock = new PairLock({ lockClients, ...lease });
    this.teardown.push(async () => {
      await lock.releaseAll();
      lock.close();
    });
    return lock;
  }

  /** Stops everything started so far, every step even if one fails; throws what failed. */
  async dispose(): Promise<void> {
    const failures: unknown[] = [];
    for (const step of this.teardown.splice(0).reverse()) {
      await step().catch((error: unknown) => failures.push(error));
    }
    if (failures.length > 0) throw new AggregateError(failures, 'lock test bed: teardown failed');
  }
}

/** A pair nobody else in the run uses. */
export function freshPair(): { userId: string; profileId: string } {
  return { userId: randomUUID(), profileId: randomUUID() };
}

/** Resolves with the reason and the time (performance.now()) at which `held` reports its loss. */
export function lostAt(held: HeldLock): Promise<{ reason: string; at: number }> {
  return new Promise((resolve) => held.onLost((reason) => resolve({ reason, at: performance.now() })));
}

/** Asserts that `promise` rejects with an `AppError` of `code`, and returns that error. */
export async function rejectsWith(promise: Promise<unknown>, code: ErrorCode): Promise<AppError> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

export const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));
