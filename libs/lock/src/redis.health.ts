import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import type { HealthIndicator } from '@app/health';
import { REDIS_CLIENT } from './tokens.js';

/** Readiness of the main Redis (`REDIS_URL`): one PING, bounded by the client's command timeout. */
@Injectable()
export class RedisHealthIndicator implements HealthIndicator {
  readonly name = 'redis';

  constructor(@Inject(REDIS_CLIENT) private readonly client: Redis) {}

  async check(): Promise<void> {
    await this.client.ping();
  }
}
