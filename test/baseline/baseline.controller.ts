import { Controller, Get, type MessageEvent, Req, Sse } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { randomBytes } from 'node:crypto';
import { concat, finalize, interval, map, merge, Observable, of, takeUntil } from 'rxjs';
import { Authenticator } from '@app/auth';
import { BaseClient } from '@app/base-client';
import { type StreamConfig, InjectConfig } from '@app/config';
import { AppError } from '@app/errors';
import { IdParam } from '@app/http';
import { PairLock } from '@app/lock';

/**
 * The benchmark baseline: what a Nest user writes first for this stream — `@Sse()` returning an
 * RxJS `interval` mapped to `MessageEvent`s, with Nest queueing the events (no drop policy).
 *
 * To keep the comparison about the streaming path, admission is the same as ours: the user's
 * token is verified by the same `Authenticator`, the binding is checked through base, the same `PairLock` (Redlock, fencing token, launched record, renewal) is
 * taken before the first byte, and released when the client leaves. The events carry the same
 * `{host, seq, timestamp, payload}` at the same rate and size, from a pool of pre-generated
 * payloads as ours (so neither side pays per-event crypto).
 */
@Controller()
export class BaselineController {
  private readonly payloads: string[];
  private cursor = 0;

  constructor(
    @InjectConfig() private readonly config: StreamConfig,
    private readonly base: BaseClient,
    private readonly auth: Authenticator,
    private readonly lock: PairLock,
  ) {
    const bytes = config.stream.eventBytes;
    this.payloads = Array.from({ length: 16 }, () =>
      randomBytes(Math.ceil((bytes * 3) / 4) + 3)
        .toString('base64url')
        .slice(0, bytes),
    );
  }

  @Get('health/live')
  live(): { status: string } {
    return { status: 'ok' };
  }

  /** A trivial JSON route: the framework's own request cost, the floor for REST latencies. */
  @Get('ping')
  ping(): { pod: string; at: number } {
    return { pod: this.config.podName, at: Date.now() };
  }

  @Sse('stream/:userId/:profileId')
  async stream(
    @IdParam('userId') userId: string,
    @IdParam('profileId') profileId: string,
    @Req() request: FastifyRequest,
  ): Promise<Observable<MessageEvent>> {
    this.auth.requireUser(await this.auth.authenticate(request), userId);
    try {
      await this.base.assertBound(userId, profileId);
    } catch (error) {
      if (error instanceof AppError && error.code === 'BINDING_NOT_FOUND')
        throw AppError.of('NOT_BOUND', { userId, profileId });
      throw error;
    }
    const pod = this.config.podName;
    const held = await this.lock.acquire(userId, profileId, { pod });
    // Nest never subscribes when the client left during setup: give the pair back ourselves.
    if (request.raw.destroyed) {
      await held.release();
      throw AppError.dependencyUnavailable('client');
    }
    const lost = new Observable<void>((subscriber) =>
      held.onLost(() => {
        subscriber.next();
        subscriber.complete();
      }),
    );
    const { eventsPerSecond, heartbeatMs } = this.config.stream;
    const hello: MessageEvent = {
      type: 'hello',
      retry: 1000,
      data: { pod, fencingToken: held.fencingToken, lockTtlMs: this.config.lock.ttlMs },
    };
    const messages = interval(Math.max(1, Math.round(1000 / eventsPerSecond))).pipe(
      map((tick): MessageEvent => {
        const seq = tick + 1;
        return { id: String(seq), data: { host: pod, seq, timestamp: Date.now(), payload: this.nextPayload() } };
      }),
    );
    const heartbeats = interval(heartbeatMs).pipe(map((): MessageEvent => ({ comment: 'heartbeat' })));
    return concat(of(hello), merge(messages, heartbeats)).pipe(
      takeUntil(lost),
      finalize(() => void held.release()),
    );
  }

  private nextPayload(): string {
    const payload = this.payloads[this.cursor]!;
    this.cursor = (this.cursor + 1) % this.payloads.length;
    return payload;
  }
}
