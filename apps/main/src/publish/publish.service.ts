import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { BaseClient } from '@app/base-client';
import { type MainConfig, InjectConfig } from '@app/config';
import { AppError, RESERVED_EVENT_NAMES } from '@app/errors';
import { publishPairEvent } from '@app/events';
import { REDIS_CLIENT } from '@app/lock';
import { EVENT_NAME, type PublishBody, type Published } from './publish.dto.js';

/**
 * How long a confirmed binding is trusted, so a pair published to every second asks base twice a
 * minute, not every time (an unbinding takes this long to refuse publishes; streams check it anew).
 */
export const BINDING_CACHE_MS = 30_000;
const BINDING_CACHE_ENTRIES = 10_000;

/**
 * Publishes events to a pair: checks the event name, the data's size and the binding, then
 * appends the event to the pair's history and announces it on its channel in one step on
 * `REDIS_URL` (see `publishPairEvent`). The stream that holds the pair — on whichever pod —
 * delivers it; a pair nobody streams keeps it in its history.
 */
@Injectable()
export class PublishService {
  private readonly bound = new Map<string, number>();
  /** Checks in flight, so concurrent publishes to one pair ask base once. */
  private readonly checking = new Map<string, Promise<void>>();

  constructor(
    @InjectConfig() private readonly config: MainConfig,
    private readonly base: BaseClient,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
  ) {}

  async publish(userId: string, profileId: string, body: PublishBody): Promise<Published> {
    const event = body.event ?? '';
    if (
      body.event !== undefined &&
      (!EVENT_NAME.test(event) || (RESERVED_EVENT_NAMES as readonly string[]).includes(event))
    ) {
      throw AppError.of('INVALID_EVENT_NAME', { event });
    }
    const data = JSON.stringify(body.data);
    const bytes = Buffer.byteLength(data, 'utf8');
    if (bytes > this.config.publish.maxDataBytes) {
      throw AppError.of('EVENT_TOO_LARGE', { bytes, max: this.config.publish.maxDataBytes });
    }
    await this.checkBinding(userId, profileId);
    try {
      const id = await publishPairEvent(this.redis, userId, profileId, event, data, this.config.history);
      return { id };
    } catch (error) {
      throw AppError.dependencyUnavailable('redis', error);
    }
  }

  /** 404 unknown user or profile, 403 not bound, 503 base down — as the stream's own check answers. */
  private checkBinding(userId: string, profileId: string): Promise<void> {
    const key = `${userId}/${profileId}`;
    if ((this.bound.get(key) ?? 0) > performance.now()) return Promise.resolve();
    let check = this.checking.get(key);
    if (!check) {
      check = this.askBase(userId, profileId).finally(() => this.checking.delete(key));
      this.checking.set(key, check);
    }
    return check;
  }

  private async askBase(userId: string, profileId: string): Promise<void> {
    const key = `${userId}/${profileId}`;
    try {
      await this.base.assertBound(userId, profileId);
    } catch (error) {
      if (!(error instanceof AppError)) throw AppError.dependencyUnavailable('base', error);
      switch (error.code) {
        case 'BINDING_NOT_FOUND':
          throw AppError.of('NOT_BOUND', { userId, profileId });
        case 'USER_NOT_FOUND':
        case 'PROFILE_NOT_FOUND':
        case 'DEPENDENCY_UNAVAILABLE':
          throw error;
        default:
          throw AppError.dependencyUnavailable('base', error);
      }
    }
    if (this.bound.size >= BINDING_CACHE_ENTRIES) this.bound.clear();
    this.bound.set(key, performance.now() + BINDING_CACHE_MS);
  }
}
