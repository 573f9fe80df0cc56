import { Inject, Injectable } from '@nestjs/common';
import type { HealthIndicator } from '@app/health';
import { asAnswer, onMajority } from './quorum.js';
import { RedisConnections } from './redis-connections.js';

/** Readiness of the lock servers: a majority answers PING (each bounded by the command timeout). */
@Injectable()
export class RedisHealthIndicator implements HealthIndicator {
  readonly name = 'redis';

  constructor(@Inject(RedisConnections) private readonly connections: RedisConnections) {}

  async check(): Promise<void> {
    const verdict = await onMajority(this.connections.lock.map((client) => asAnswer(client.ping())));
    if (verdict !== true) throw new Error(verdict);
  }
}
