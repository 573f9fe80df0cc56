import { Injectable } from '@nestjs/common';
import { BaseClient } from '@app/base-client';
import { mapWithConcurrency } from '@app/http';

export interface SuggestedUser {
  id: string;
  name: string;
  profileIds: string[];
}

/** At most this many suggestions are returned (the most-bound users first). */
export const MAX_SUGGESTIONS = 50;

@Injectable()
export class SuggestedService {
  constructor(private readonly base: BaseClient) {}

  /**
   * Users bound to at least two profiles, computed from the stored profiles (so every main
   * replica answers the same), most-bound first.
   */
  async suggested(): Promise<{ items: SuggestedUser[] }> {
    const profilesByUser = new Map<string, string[]>();
    for await (const profile of this.base.allProfiles()) {
      for (const userId of profile.userIds) {
        const list = profilesByUser.get(userId);
        if (list) list.push(profile.id);
        else profilesByUser.set(userId, [profile.id]);
      }
    }
    const shared = [...profilesByUser]
      .filter(([, profileIds]) => profileIds.length >= 2)
      .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
      .slice(0, MAX_SUGGESTIONS);
    const items = await mapWithConcurrency(shared, 8, async ([id, profileIds]) => ({
      id,
      name: (await this.base.getUser(id)).name,
      profileIds: profileIds.sort(),
    }));
    return { items };
  }
}
