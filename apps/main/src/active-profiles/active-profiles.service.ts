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

  /** The user's profiles from base, then ONE round trip to each lock server (in parallel) for all their launched records. */
  async login(userId: string): Promise<Login> {
    const profiles = await this.base.profilesOf(userId);
    const records = await this.launched.readMany(
      userId,
      profiles.map((profile) => profile.id),
    );
    const activeProfiles = [...records]
      .map(([profileId, record]) => ({ profileId, pod: record.pod, since: record.since.toISOString() }))
      .sort((a, b) => a.since.localeCompare(b.since));
    return { userId, activeProfiles };
  }
}
