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

/** Aggregates maintained with the writes: O(1) reads whatever the data size. */
@Controller()
export class StatsController {
  private readonly suggestions: FreshValue<SuggestedDto>;

  constructor(
    ranking: RankingService,
    private readonly totals: TotalsRepository,
    private readonly bindings: BindingsRepository,
  ) {
    this.suggestions = new FreshValue(
      async () => {
        const computedAt = new Date().toISOString();
        return { items: await ranking.suggested(), computedAt };
      },
      SUGGESTED_FRESH_MS,
      SUGGESTED_MAX_AGE_MS,
    );
  }

  /** How many users and profiles exist (the `totals` counters), and a few bound pairs: O(1). */
  @Get('counts')
  async counts(): Promise<CountsDto> {
    const [totals, examples] = await Promise.all([this.totals.read(), this.bindings.examplePairs(EXAMPLES)]);
    return { ...totals, examples };
  }

  /** Users bound to ≥ 2 profiles, most-bound first, at most 50; at most 5 s old (usually 1), one computation at a time. */
  @Get('suggested')
  suggested(): Promise<SuggestedDto> {
    return this.suggestions.get();
  }
}
