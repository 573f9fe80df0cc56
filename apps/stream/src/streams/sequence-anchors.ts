import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { manyKeysArgs, pairKeys, REDIS_CLIENT } from '@app/lock';
import { parseSequenceAnchor, type SequenceAnchor } from './sequence-anchor.js';

type Call = (...args: (string | number)[]) => Promise<unknown>;

/** How long a pair's sequence is remembered after its stream was last seen. */
export const SEQUENCE_ANCHOR_TTL_MS = 60 * 60 * 1000;
/** How often live streams save where their sequence stands (it survives a pod that dies). */
export const SEQUENCE_ANCHOR_REFRESH_MS = 30_000;

/**
 * Saves anchors. KEYS: one pair's sequence key per anchor. ARGV: expiry ms, then the anchors'
 * JSON in the order of KEYS. Each is set on its own (a failure fails only itself); → how many
 * were not saved.
 */
const SAVE = `
local failed = 0
for i, key in ipairs(KEYS) do
  local reply = redis.pcall('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  if type(reply) == 'table' and reply.err then failed = failed + 1 end
end
return failed
`;

/**
 * Where each pair's event sequence stands, in Redis (`kubescaler:seq:{userId}:{profileId}` on
 * `REDIS_URL`), so the pod that serves a resumed stream continues it. Best effort: a failure
 * only costs the exact gap of one hand-over, so it is logged and never refuses a stream.
 */
@Injectable()
export class SequenceAnchors {
  private readonly logger = new Logger(SequenceAnchors.name);

  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {
    // The number of keys is the call's first argument.
    redis.defineCommand('kubescalerAnchorsSave', { lua: SAVE });
  }

  async read(userId: string, profileId: string): Promise<SequenceAnchor | undefined> {
    try {
      return parseSequenceAnchor(await this.redis.get(pairKeys(userId, profileId).sequence));
    } catch (error) {
      this.logger.warn(`cannot read the sequence of ${userId}/${profileId}: ${(error as Error).message}`);
      return undefined;
    }
  }

  /**
   * Saves several anchors in one round trip: one command, not one per anchor (a command's objects
   * live until its answer). Never throws.
   */
  async save(anchors: readonly { userId: string; profileId: string; anchor: SequenceAnchor }[]): Promise<void> {
    if (anchors.length === 0) return;
    const keys = anchors.map(({ userId, profileId }) => pairKeys(userId, profileId).sequence);
    const values = anchors.map(({ anchor }) => JSON.stringify(anchor));
    try {
      const save = (this.redis as unknown as Record<string, Call>).kubescalerAnchorsSave!;
      const failed = Number(await save.call(this.redis, ...manyKeysArgs(keys, SEQUENCE_ANCHOR_TTL_MS, values)));
      if (failed > 0) this.logger.warn(`${failed} of ${anchors.length} sequence anchors were not saved`);
    } catch (error) {
      this.logger.warn(`sequence anchors not saved: ${(error as Error).message}`);
    }
  }
}
