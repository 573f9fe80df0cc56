import { Injectable } from '@nestjs/common';
import { BaseClient } from '@app/base-client';
import { LaunchedRecords } from '@app/lock';

export interface ActiveProfile {
  profileId: string;
  pod: string;
  since: string;
}

export interface Login {
  userId: string;
  activeProfiles: ActiveProfile[];
}

@Injectable()
export class ActiveProfilesService {
  constructor(
    private readonly base: BaseClient,
    private readonly launched: LaunchedRecords,
  ) {}

  /**
   * The user's profile ids from base (ids only, a page of up to 10,000 from the user's own partition), then
   * ONE round trip to each lock server (in parallel) for all their launched records — per page,
   * so a user bound to more profiles than one page holds costs one more of each.
   */
  async login(userId: string): Promise<Login> {
    const activeProfiles: ActiveProfile[] = [];
    let page: string | undefined;
    do {
      const profiles = await this.base.profileIdsOf(userId, undefined, page);
      const records = await this.launched.readMany(userId, profiles.items);
      for (const [profileId, record] of records) {
        activeProfiles.push({ profileId, pod: record.pod, since: record.since.toISOString() });
      }
      page = profiles.nextPage;
    } while (page);
    activeProfiles.sort((a, b) => a.since.localeCompare(b.since));
    return { userId, activeProfiles };
  }
}
