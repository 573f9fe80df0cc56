import { Injectable } from '@nestjs/common';
import type { SuggestedUserDto } from '@app/base-client/contract';
import { mapWithConcurrency } from '@app/async';
import { BindingsRepository } from '../storage/bindings.repository.js';
import { RankingRepository } from '../storage/ranking.repository.js';
import { UsersRepository } from '../storage/users.repository.js';
import { WriteClock } from './write-clock.js';

/** Users in the suggestions, and profile ids shown for each (`profileCount` gives the total). */
export const MAX_SUGGESTIONS = 50;
export const PROFILE_IDS_PER_SUGGESTION = 10;
/** Ranking rows read per answer: the suggestions plus room for rows that lost a race. */
const RANK_ROWS_READ = MAX_SUGGESTIONS * 2;
const READ_CONCURRENCY = 16;

/**
 * The ranking of shared users, maintained with the writes: after a write changes a user's
 * bindings, `rerank` counts that user's bindings (one partition) and moves its ranking row. The
 * suggestions read the head of the ranking — O(50), whatever the data size.
 */
@Injectable()
export class RankingService {
  private readonly clock = new WriteClock();

  constructor(
    private readonly ranking: RankingRepository,
    private readonly bindings: BindingsRepository,
    private readonly users: UsersRepository,
  ) {}

  /**
   * Re-ranks each user from its current binding count. The timestamp is taken before counting, so
   * of two concurrent re-rankings the later count wins, and a count always sees every write that
   * finished before it started: once the writers are done, the ranking is exact.
   */
  async rerank(userIds: readonly string[], concurrency = READ_CONCURRENCY): Promise<void> {
    await mapWithConcurrency([...new Set(userIds)], concurrency, async (userId) => {
      const at = this.clock.next();
      const [ranked, bound] = await Promise.all([this.ranking.boundOf([userId]), this.bindings.countOf(userId)]);
      const previous = ranked.get(userId);
      if (previous === bound || (previous === undefined && bound < 2)) return;
      await this.ranking.record(userId, previous, bound, at);
    });
  }

  /** Empties the ranking (every binding was dropped). */
  async truncate(): Promise<void> {
    await this.ranking.truncate();
  }

  /**
   * Users bound to ≥ 2 profiles, most-bound first (ties by id), at most 50, each with its first
   * 10 profile ids and its count. A ranking row whose count is not the user's ranked count lost a
   * race and is skipped; a user deleted meanwhile is left out.
   */
  async suggested(): Promise<SuggestedUserDto[]> {
    const rows = await this.ranking.top(RANK_ROWS_READ);
    const ranked = await this.ranking.boundOf(rows.map((row) => row.userId));
    const seen = new Set<string>();
    const current = rows
      .filter((row) => ranked.get(row.userId) === row.bound && !seen.has(row.userId) && seen.add(row.userId))
      .slice(0, MAX_SUGGESTIONS);
    const [names, profileIds] = await Promise.all([
      this.users.findNames(current.map((row) => row.userId)),
      mapWithConcurrency(current, READ_CONCURRENCY, (row) =>
        this.bindings.firstProfilesOf(row.userId, PROFILE_IDS_PER_SUGGESTION),
      ),
    ]);
    return current.flatMap((row, i) => {
      const name = names.get(row.userId);
      return name === undefined ? [] : [{ id: row.userId, name, profileIds: profileIds[i]!, profileCount: row.bound }];
    });
  }
}
