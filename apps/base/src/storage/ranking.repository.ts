import { Injectable } from '@nestjs/common';
import cassandra from 'cassandra-driver';
import { Cql, type Statement } from '../cassandra/cql.js';
import type { RankRow } from './rows.js';

/** The one partition of `shared_users` (a few hundred thousand rows at most stay one partition). */
const BUCKET = 0;

/**
 * `user_rank` (each user's binding count as last ranked) and `shared_users` (users bound to ≥ 2
 * profiles, most-bound first). Writes carry the caller's timestamp, so of two concurrent
 * re-rankings of one user the one that counted last wins in both tables.
 */
@Injectable()
export class RankingRepository {
  private readonly q;

  constructor(private readonly cql: Cql) {
    const rank = `${cql.keyspace}.user_rank`;
    const shared = `${cql.keyspace}.shared_users`;
    this.q = {
      boundOf: `SELECT user_id, bound FROM ${rank} WHERE user_id IN ?`,
      setBound: `UPDATE ${rank} USING TIMESTAMP ? SET bound = ? WHERE user_id = ?`,
      insertShared: `INSERT INTO ${shared} (bucket, bound, user_id) VALUES (${BUCKET}, ?, ?) USING TIMESTAMP ?`,
      deleteShared: `DELETE FROM ${shared} USING TIMESTAMP ? WHERE bucket = ${BUCKET} AND bound = ? AND user_id = ?`,
      top: `SELECT bound, user_id FROM ${shared} WHERE bucket = ${BUCKET} LIMIT ?`,
      truncateRank: `TRUNCATE ${rank}`,
      truncateShared: `TRUNCATE ${shared}`,
    };
  }

  /** The ranked binding count of those of `userIds` that were ranked. */
  async boundOf(userIds: readonly string[]): Promise<Map<string, number>> {
    if (userIds.length === 0) return new Map();
    const rows = (await this.cql.execute(this.q.boundOf, [userIds])).rows;
    return new Map(rows.map((row) => [String(row.get('user_id')), row.get('bound') as number]));
  }

  /**
   * Moves the user from `previous` to `bound` (a user bound to fewer than 2 profiles has no
   * `shared_users` row), all at `timestampMicros`, in one logged batch.
   */
  async record(userId: string, previous: number | undefined, bound: number, timestampMicros: bigint): Promise<void> {
    const at = cassandra.types.Long.fromString(timestampMicros.toString());
    const statements: Statement[] = [{ query: this.q.setBound, params: [at, bound, userId] }];
    if (previous !== undefined && previous >= 2 && previous !== bound) {
      statements.push({ query: this.q.deleteShared, params: [at, previous, userId] });
    }
    if (bound >= 2 && previous !== bound) statements.push({ query: this.q.insertShared, params: [bound, userId, at] });
    await this.cql.batch(statements, true);
  }

  /** The first `limit` rows of the ranking, most-bound first (ties by user id). */
  async top(limit: number): Promise<RankRow[]> {
    const rows = (await this.cql.execute(this.q.top, [limit])).rows;
    return rows.map((row) => ({ userId: String(row.get('user_id')), bound: row.get('bound') as number }));
  }

  async truncate(): Promise<void> {
    await this.cql.execute(this.q.truncateRank);
    await this.cql.execute(this.q.truncateShared);
  }
}
