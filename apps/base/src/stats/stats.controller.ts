import { Controller, Get } from '@nestjs/common';
import type { CountsDto, SuggestedDto } from '@app/base-client/contract';
import { FreshValue } from '@app/async';
import { RankingService } from '../ranking/ranking.service.js';
import { BindingsRepository } from '../storage/bindings.repository.js';
import { TotalsRepository } from '../storage/totals.repository.js';

const EXAMPLES = 5;

/** Suggestions younger than this are answered as they are; up to the max age while one refresh runs. */
export const SUGGESTED_FRESH_MS = 1000;
export const SUGGESTED_MAX_AGE_MS = 5000;
/**
 * Counts younger than this are answered as they are; up to the max age while one read runs. Any
 * change of the totals through this process drops them, so they are exact after a write through
 * the same base, and at most `COUNTS_MAX_AGE_MS` behind writes through another replica.
 */
export const COUNTS_FRESH_MS = 1000;
export const COUNTS_MAX_AGE_MS = 2000;

/** Aggregates maintained with the writes: O(1) reads whatever the data size. */
@Controller()
export class StatsController {
  private readonly suggestions: FreshValue<SuggestedDto>;
  private readonly counted: FreshValue<CountsDto>;

  constructor(ranking: RankingService, totals: TotalsRepository, bindings: BindingsRepository) {
    this.counted = new FreshValue(
      async () => {
        const [counts, examples] = await Promise.all([totals.read(), bindings.examplePairs(EXAMPLES)]);
        return { ...counts, examples };
      },
      COUNTS_FRESH_MS,
      COUNTS_MAX_AGE_MS,
    );
    totals.onChange(() => this.counted.clear());
    this.suggestions = new FreshValue(
      async () => {
        const computedAt = new Date().toISOString();
        return { items: await ranking.suggested(), computedAt };
      },
      SUGGESTED_FRESH_MS,
      SUGGESTED_MAX_AGE_MS,
    );
  }

  /**
   * How many users and profiles exist (the `totals` counters), and a few bound pairs: O(1), one
   * read at a time, reused for up to 1 s (2 s while a read runs) unless this process changed the totals.
   */
  @Get('counts')
  counts(): Promise<CountsDto> {
    return this.counted.get();
  }

  /** Users bound to ≥ 2 profiles, most-bound first, at most 50; at most 5 s old (usually 1), one computation at a time. */
  @Get('suggested')
  suggested(): Promise<SuggestedDto> {
    return this.suggestions.get();
  }
}
