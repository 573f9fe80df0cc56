import { Injectable } from '@nestjs/common';
import { Cql } from '../cassandra/cql.js';
import { type ProfileRow, type RowPage, toProfileRow, wasApplied } from './rows.js';

/** The `profiles` table; the user ↔ profile binding lives here, in `profiles.users`. */
@Injectable()
export class ProfilesRepository {
  private readonly q;

  constructor(private readonly cql: Cql) {
    const t = `${cql.keyspace}.profiles`;
    this.q = {
      insert: `INSERT INTO ${t} (id, name, users, created_at) VALUES (?, ?, ?, ?)`,
      byId: `SELECT id, name, users, created_at FROM ${t} WHERE id = ?`,
      usersOf: `SELECT users FROM ${t} WHERE id = ?`,
      page: `SELECT id, name, users, created_at FROM ${t}`,
      // Served by the SAI index on `users`; never ALLOW FILTERING.
      byUser: `SELECT id, name, users, created_at FROM ${t} WHERE users CONTAINS ?`,
      rename: `UPDATE ${t} SET name = ? WHERE id = ? IF EXISTS`,
      bind: `UPDATE ${t} SET users = users + ? WHERE id = ? IF EXISTS`,
      unbind: `UPDATE ${t} SET users = users - ? WHERE id = ? IF EXISTS`,
      clearUsers: `UPDATE ${t} SET users = {} WHERE id = ? IF EXISTS`,
      allIds: `SELECT id FROM ${t}`,
      delete: `DELETE FROM ${t} WHERE id = ? IF EXISTS`,
      truncate: `TRUNCATE ${t}`,
    };
  }

  async insert(profile: ProfileRow): Promise<void> {
    await this.cql.execute(this.q.insert, [profile.id, profile.name, profile.userIds, profile.createdAt]);
  }

  async findById(id: string): Promise<ProfileRow | undefined> {
    const row = (await this.cql.execute(this.q.byId, [id])).first();
    return row ? toProfileRow(row) : undefined;
  }

  /** The bound user ids, or undefined when the profile does not exist. */
  async findUserIds(id: string): Promise<Set<string> | undefined> {
    const row = (await this.cql.execute(this.q.usersOf, [id])).first();
    if (!row) return undefined;
    return new Set(((row.get('users') as unknown[] | null) ?? []).map(String));
  }

  async page(limit: number, pageToken: string | undefined): Promise<RowPage<ProfileRow>> {
    const { rows, nextPage } = await this.cql.page(this.q.page, [], limit, pageToken);
    return { items: rows.map(toProfileRow), nextPage };
  }

  async findByUser(userId: string): Promise<ProfileRow[]> {
    return (await this.cql.all(this.q.byUser, [userId])).map(toProfileRow);
  }

  async allIds(): Promise<string[]> {
    return (await this.cql.all(this.q.allIds)).map((row) => String(row.get('id')));
  }

  async rename(id: string, name: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.rename, [name, id]));
  }

  /** Adds the user to the profile; false when the profile does not exist. Idempotent. */
  async bind(id: string, userId: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.bind, [[userId], id]));
  }

  /** Removes the user from the profile; false when the profile does not exist. Idempotent. */
  async unbind(id: string, userId: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.unbind, [[userId], id]));
  }

  async clearUsers(id: string): Promise<void> {
    await this.cql.execute(this.q.clearUsers, [id]);
  }

  async delete(id: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.delete, [id]));
  }

  async truncate(): Promise<void> {
    await this.cql.execute(this.q.truncate);
  }
}
