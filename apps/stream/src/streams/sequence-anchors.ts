import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { pairKeys, REDIS_CLIENT } from '@app/lock';
import { parseSequenceAnchor, type SequenceAnchor } from './sequence-anchor.js';

/** How long a pair's sequence is remembered after its stream was last seen. */
export const SEQUENCE_ANCHOR_TTL_MS = 60 * 60 * 1000;
/** How often live streams save where their sequence stands (it survives a pod that dies). */
export const SEQUENCE_ANCHOR_REFRESH_MS = 30_000;

/**
 * Where each pair's event sequence stands, in Redis (`kubescaler:seq:{userId}:{profileId}` on
 * `REDIS_URL`), so the pod that serves a resumed stream continues it. Best effort: a failure
 * only costs the exact gap of one hand-over, so it is logged and never refuses a stream.
 */
@Injectable()
export class SequenceAnchors {
  private readonly logger = new Logger(SequenceAnchors.name);

  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  async read(userId: string, profileId: string): Promise<SequenceAnchor | undefined> {
    try {
      return parseSequenceAnchor(await this.redis.get(pairKeys(userId, profileId).sequence));
    } catch (error) {
      this.logger.warn(`cannot read the sequence of ${userId}/${profileId}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /** Saves several anchors in one round trip. Never throws. */
  async save(anchors: readonly { userId: string; profileId: string; anchor: SequenceAnchor }[]): Promise<void> {
    if (anchors.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const { userId, profileId, anchor } of anchors) {
      pipeline.set(pairKeys(userId, profileId).sequence, JSON.stringify(anchor), 'PX', SEQUENCE_ANCHOR_TTL_MS);
    }
    try {
      const results = (await pipeline.exec()) ?? [];
      const failed = results.filter(([error]) => error).length;
      if (failed > 0) this.logger.warn(`${failed} of ${anchors.length} sequence anchors were not saved`);
    } catch (error) {
      this.logger.warn(`sequence anchors not saved: ${(error as Error).message}`);
    }
  }
}
