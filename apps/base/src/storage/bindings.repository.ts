import { Injectable } from '@nestjs/common';
import { mapWithConcurrency } from '@app/async';
import { Cql, type Statement } from '../cassandra/cql.js';
import { bindingBytes, chunkBySize, MAX_BATCH_BYTES } from './batch-size.js';
import { type BindingRow, type ProfileRef, type RowPage, wasApplied } from './rows.js';

/** Bindings per logged batch at most: both rows of each (≈ 140 bytes a binding with short names; see `MAX_BATCH_BYTES`). */
export const BINDINGS_PER_BATCH = 100;

/**
 * What one logged batch of a bulk write holds: bindings (both rows of each) and other rows that
 * must stand or fall with them — the rows of the new users they bind.
 */
export interface BindingGroup {
  bindings: readonly BindingRow[];
  rows: readonly Statement[];
}

/**
 * The two tables that serve a binding: `profile_users` (users of a profile; the binding check)
 * and `user_profiles` (profiles of a user, with the profile's name). Every write of a binding
 * goes to both in ONE logged batch, so a binding is in both tables or in neither, whatever fails.
 */
@Injectable()
export class BindingsRepository {
  private readonly q;

  constructor(private readonly cql: Cql) {
    const pu = `${cql.keyspace}.profile_users`;
    const up = `${cql.keyspace}.user_profiles`;
    this.q = {
      addUser: `INSERT INTO ${pu} (profile_id, user_id) VALUES (?, ?)`,
      addProfile: `INSERT INTO ${up} (user_id, profile_id, profile_name) VALUES (?, ?, ?)`,
      removeUser: `DELETE FROM ${pu} WHERE profile_id = ? AND user_id = ?`,
      removeProfile: `DELETE FROM ${up} WHERE user_id = ? AND profile_id = ?`,
      isBound: `SELECT user_id FROM ${pu} WHERE profile_id = ? AND user_id = ?`,
      usersOf: `SELECT user_id FROM ${pu} WHERE profile_id = ?`,
      firstUsersOf: `SELECT user_id FROM ${pu} WHERE profile_id = ? LIMIT ?`,
      profilesOf: `SELECT profile_id, profile_name FROM ${up} WHERE user_id = ?`,
      profileIdsOf: `SELECT profile_id FROM ${up} WHERE user_id = ?`,
      firstProfilesOf: `SELECT profile_id FROM ${up} WHERE user_id = ? LIMIT ?`,
      countOf: `SELECT COUNT(*) AS n FROM ${up} WHERE user_id = ?`,
      // The first user of the first profiles in token order: one short range read.
      examples: `SELECT profile_id, user_id FROM ${pu} PER PARTITION LIMIT 1 LIMIT ?`,
      // Conditional: a rename racing an unbind must not bring the row back.
      rename: `UPDATE ${up} SET profile_name = ? WHERE user_id = ? AND profile_id = ? IF EXISTS`,
      truncateUsers: `TRUNCATE ${pu}`,
      truncateProfiles: `TRUNCATE ${up}`,
    };
  }

  /** Writes the bindings, both rows of each in one logged batch, `concurrency` batches in flight. */
  async bind(bindings: readonly BindingRow[], concurrency = 1): Promise<void> {
    await this.inBatches(bindings, concurrency, (b) => this.bindStatements(b));
  }

  /**
   * Writes each group in ONE logged batch — both rows of each of its bindings and its other rows —
   * so a group is written whole or not at all; `concurrency` groups in flight, each given a bulk
   * write's timeout. Rows of one partition key in a batch (a user's row and its `user_profiles`
   * rows; a profile's `profile_users` rows) are applied as one mutation, so groups that gather a
   * partition's rows cost fewer mutations than their row count.
   */
  async bindGroups(groups: readonly BindingGroup[], concurrency: number): Promise<void> {
    await mapWithConcurrency(groups, concurrency, (group) =>
      this.cql.batch([...group.rows, ...group.bindings.flatMap((b) => this.bindStatements(b))], true, { bulk: true }),
    );
  }

  /** Removes the bindings from both tables, both rows of each in one logged batch. */
  async unbind(bindings: readonly Omit<BindingRow, 'profileName'>[], concurrency = 1): Promise<void> {
    await this.inBatches(bindings, concurrency, (b) => [
      { query: this.q.removeUser, params: [b.profileId, b.userId] },
      { query: this.q.removeProfile, params: [b.userId, b.profileId] },
    ]);
  }

  async isBound(profileId: string, userId: string): Promise<boolean> {
    return (await this.cql.execute(this.q.isBound, [profileId, userId])).rowLength > 0;
  }

  /** A page of the profile's user ids, in id order. */
  async usersOf(profileId: string, limit: number, pageToken: string | undefined): Promise<RowPage<string>> {
    const { rows, nextPage } = await this.cql.page(this.q.usersOf, [profileId], limit, pageToken);
    return { items: rows.map((row) => String(row.get('user_id'))), nextPage };
  }

  /** The profile's first `limit` user ids, in id order. */
  async firstUsersOf(profileId: string, limit: number): Promise<string[]> {
    const rows = (await this.cql.execute(this.q.firstUsersOf, [profileId, limit])).rows;
    return rows.map((row) => String(row.get('user_id')));
  }

  /** A page of the user's profiles (id and name), in profile id order. */
  async profilesOf(userId: string, limit: number, pageToken: string | undefined): Promise<RowPage<ProfileRef>> {
    const { rows, nextPage } = await this.cql.page(this.q.profilesOf, [userId], limit, pageToken);
    return {
      items: rows.map((row) => ({ id: String(row.get('profile_id')), name: row.get('profile_name') as string })),
      nextPage,
    };
  }

  /** A page of the user's profile ids only (what a login needs), in profile id order. */
  async profileIdsOf(userId: string, limit: number, pageToken: string | undefined): Promise<RowPage<string>> {
    const { rows, nextPage } = await this.cql.page(this.q.profileIdsOf, [userId], limit, pageToken);
    return { items: rows.map((row) => String(row.get('profile_id'))), nextPage };
  }

  /** The user's first `limit` profile ids, in id order. */
  async firstProfilesOf(userId: string, limit: number): Promise<string[]> {
    const rows = (await this.cql.execute(this.q.firstProfilesOf, [userId, limit])).rows;
    return rows.map((row) => String(row.get('profile_id')));
  }

  /** Up to `limit` bound pairs, one per profile (the first profiles in token order): O(limit). */
  async examplePairs(limit: number): Promise<{ userId: string; profileId: string }[]> {
    const rows = (await this.cql.execute(this.q.examples, [limit])).rows;
    return rows.map((row) => ({ userId: String(row.get('user_id')), profileId: String(row.get('profile_id')) }));
  }

  /** How many profiles the user is bound to: one partition, O(its bindings). */
  async countOf(userId: string): Promise<number> {
    return Number((await this.cql.execute(this.q.countOf, [userId])).first().get('n'));
  }

  /** Sets the profile's name in the user's row; false when the binding is gone. */
  async renameFor(userId: string, profileId: string, name: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.rename, [name, userId, profileId]));
  }

  async truncate(): Promise<void> {
    await this.cql.execute(this.q.truncateUsers);
    await this.cql.execute(this.q.truncateProfiles);
  }

  private bindStatements(b: BindingRow): Statement[] {
    return [
      { query: this.q.addUser, params: [b.profileId, b.userId] },
      { query: this.q.addProfile, params: [b.userId, b.profileId, b.profileName] },
    ];
  }

  private async inBatches<T extends Omit<BindingRow, 'profileName'>>(
    items: readonly T[],
    concurrency: number,
    rows: (item: T) => Statement[],
  ): Promise<void> {
    const bytes = (item: T) => bindingBytes({ profileName: '', ...item });
    const batches = chunkBySize(items, BINDINGS_PER_BATCH, MAX_BATCH_BYTES, bytes).map((chunk) => chunk.flatMap(rows));
    await mapWithConcurrency(batches, concurrency, (batch) => this.cql.batch(batch, true));
  }
}
