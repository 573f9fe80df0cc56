import type { Redis } from 'ioredis';
import { AppError } from '@app/errors';
import { pairKeys } from './keys.js';
import { type LaunchedRecord, parseLaunchedRecord } from './launched-record.js';

/** Reads launched records: which of a user's profiles are live right now, and where. */
export class LaunchedRecords {
  constructor(private readonly client: Redis) {}

  /**
   * The live records among `profileIds` for `userId`, keyed by profile id, in ONE round trip (MGET).
   * Missing and unparsable values are left out. Redis failures are a 503 `AppError`.
   */
  async readMany(userId: string, profileIds: readonly string[]): Promise<Map<string, LaunchedRecord>> {
    const ids = [...new Set(profileIds)];
    const found = new Map<string, LaunchedRecord>();
    if (ids.length === 0) return found;
    let values: (string | null)[];
    try {
      values = await this.client.mget(ids.map((profileId) => pairKeys(userId, profileId).launched));
    } catch (error) {
      throw AppError.dependencyUnavailable('redis', error);
    }
    ids.forEach((profileId, index) => {
      const record = parseLaunchedRecord(values[index]);
      if (record) found.set(profileId, record);
    });
    return found;
  }
}
