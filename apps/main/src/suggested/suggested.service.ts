import { Injectable } from '@nestjs/common';
import { BaseClient, type SuggestedDto } from '@app/base-client';

/**
 * Users bound to at least two profiles, from base's ranking (maintained with the writes, so
 * every main replica answers the same and no request reads all the data): most-bound first,
 * at most 50, each with its first 10 profile ids and its `profileCount`; at most 5 s old.
 */
@Injectable()
export class SuggestedService {
  constructor(private readonly base: BaseClient) {}

  suggested(): Promise<SuggestedDto> {
    return this.base.suggested();
  }
}
