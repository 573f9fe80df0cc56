import { Injectable } from '@nestjs/common';
import { BaseClient } from '@app/base-client';
import { AppError } from '@app/errors';
import { mapWithConcurrency } from '@app/http';
import { rankSharedUsers } from './rank-shared-users.js';

export interface SuggestedUser {
  id: string;
  name: string;
  profileIds: string[];
}

/** At most this many suggestions are returned (the most-bound users first). */
export const MAX_SUGGESTIONS = 50;
/** Names looked up in base at once. */
const NAME_CONCURRENCY = 8;

@Injectable()
export class SuggestedService {
  constructor(private readonly base: BaseClient) {}

  /**
   * Users bound to at least two profiles, computed from the stored profiles (so every main
   * replica answers the same), most-bound first. A user deleted while the list is built is left
   * out rather than failing the whole answer.
   */
  async suggested(): Promise<{ items: SuggestedUser[] }> {
    const shared = await rankSharedUsers(this.base.allProfiles(), MAX_SUGGESTIONS);
    const named = await mapWithConcurrency(shared, NAME_CONCURRENCY, async ({ id, profileIds }) => {
      const name = await this.nameOf(id);
      return name === undefined ? undefined : { id, name, profileIds };
    });
    return { items: named.filter((user) => user !== undefined) };
  }

  private async nameOf(userId: string): Promise<string | undefined> {
    try {
      return (await this.base.getUser(userId)).name;
    } catch (error) {
      if (error instanceof AppError && error.code === 'USER_NOT_FOUND') return undefined;
      throw error;
    }
  }
}
