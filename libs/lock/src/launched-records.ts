import type { Redis } from 'ioredis';
import { AppError } from '@app/errors';
import { pairKeys } from './keys.js';
import { type LaunchedRecord, parseLaunchedRecord, type StoredLaunchedRecord } from './launched-record.js';
import { gather, quorumOf } from './quorum.js';

/** One lock server's answer to the MGET of the asked records: the raw values, or why not. */
export type RecordsAnswer = { readonly values: readonly (string | null)[] } | { readonly error: string };

/**
 * The verdict once enough servers have answered: which of `ids` are live, i.e. hold the SAME
 * holder's record (by its owner value) on a majority of the `members` lock servers; or
 * `unavailable` when no majority can answer; or undefined while it depends on answers still out.
 */
export function tallyLaunchedRecords(
  ids: readonly string[],
  answers: readonly RecordsAnswer[],
  pending: number,
  members: number,
): Map<string, LaunchedRecord> | { unavailable: string } | undefined {
  const quorum = quorumOf(members);
  const errors = answers.flatMap((answer) => ('error' in answer ? [answer.error] : []));
  if (errors.length > members - quorum) {
    return { unavailable: `${errors.length} of ${members} lock servers did not answer: ${errors.join('; ')}` };
  }
  const live = new Map<string, LaunchedRecord>();
  for (const [index, id] of ids.entries()) {
    const byOwner = new Map<string, { record: StoredLaunchedRecord; count: number }>();
    for (const answer of answers) {
      if (!('values' in answer)) continue;
      const record = parseLaunchedRecord(answer.values[index]);
      if (!record) continue;
      const seen = byOwner.get(record.owner);
      byOwner.set(record.owner, { record: seen?.record ?? record, count: (seen?.count ?? 0) + 1 });
    }
    const best = [...byOwner.values()].sort((a, b) => b.count - a.count)[0];
    if (best && best.count >= quorum) {
      const { pod, since, fencingToken } = best.record;
      live.set(id, { pod, since, fencingToken });
    } else if ((best?.count ?? 0) + pending >= quorum) {
      return undefined; // the answers still out could make it live
    }
  }
  return live;
}

/**
 * Reads launched records — which of a user's profiles are live right now, and where — from every
 * lock server, by majority: a record counts only where a majority holds the same holder's copy,
 * so no single Redis is on the path and a leftover on a minority is never reported as live.
 */
export class LaunchedRecords {
  constructor(private readonly clients: readonly Redis[]) {
    if (clients.length === 0) throw new Error('LaunchedRecords needs at least one lock server');
  }

  /**
   * The live records among `profileIds` for `userId`, keyed by profile id: ONE MGET per lock
   * server, in parallel. Unparsable values are left out. No majority answering is a 503 `AppError`.
   */
  async readMany(userId: string, profileIds: readonly string[]): Promise<Map<string, LaunchedRecord>> {
    const ids = [...new Set(profileIds)];
    if (ids.length === 0) return new Map();
    const keys = ids.map((profileId) => pairKeys(userId, profileId).launched);
    const verdict = await gather(
      this.clients.map((client) =>
        client.mget(keys).then(
          (values): RecordsAnswer => ({ values }),
          (error: unknown): RecordsAnswer => ({ error: error instanceof Error ? error.message : String(error) }),
        ),
      ),
      (answers, pending) => tallyLaunchedRecords(ids, answers, pending, this.clients.length),
    );
    if (verdict instanceof Map) return verdict;
    throw AppError.dependencyUnavailable('redis', new Error(verdict.unavailable));
  }
}
