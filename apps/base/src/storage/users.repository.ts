import { Injectable } from '@nestjs/common';
import { type BulkOptions, Cql, type Params, type Statement } from '../cassandra/cql.js';
import { type RowPage, toUserRow, type UserRow, wasApplied } from './rows.js';

/** The `users` table. One statement per method, typed rows, nothing about HTTP. */
@Injectable()
export class UsersRepository {
  private readonly q;

  constructor(private readonly cql: Cql) {
    const t = `${cql.keyspace}.users`;
    this.q = {
      insert: `INSERT INTO ${t} (id, name, created_at) VALUES (?, ?, ?)`,
      byId: `SELECT id, name, created_at FROM ${t} WHERE id = ?`,
      existing: `SELECT id FROM ${t} WHERE id IN ?`,
      names: `SELECT id, name FROM ${t} WHERE id IN ?`,
      page: `SELECT id, name, created_at FROM ${t}`,
      rename: `UPDATE ${t} SET name = ? WHERE id = ? IF EXISTS`,
      delete: `DELETE FROM ${t} WHERE id = ? IF EXISTS`,
      truncate: `TRUNCATE ${t}`,
    };
  }

  async insert(user: UserRow): Promise<void> {
    await this.cql.execute(this.q.insert, [user.id, user.name, user.createdAt]);
  }

  /** Many new users, `concurrency` writes in flight (each user is its own partition: no batch). */
  async insertMany(users: readonly UserRow[], concurrency: number): Promise<void> {
    const params: Params[] = users.map((u) => [u.id, u.name, u.createdAt]);
    await this.cql.concurrent(this.q.insert, params, concurrency, { bulk: true });
  }

  /** The insert of a new user, for a logged batch that writes the user with its bindings. */
  insertStatement(user: UserRow): Statement {
    return { query: this.q.insert, params: [user.id, user.name, user.createdAt] };
  }

  async findById(id: string): Promise<UserRow | undefined> {
    const row = (await this.cql.execute(this.q.byId, [id])).first();
    return row ? toUserRow(row) : undefined;
  }

  /** Which of `ids` exist. */
  async findExistingIds(ids: readonly string[], options: BulkOptions = {}): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.cql.all(this.q.existing, [ids], 1000, options);
    return new Set(rows.map((row) => String(row.get('id'))));
  }

  /** The names of those of `ids` that exist (at most a few hundred ids: one multi-partition read). */
  async findNames(ids: readonly string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.cql.execute(this.q.names, [ids])).rows;
    return new Map(rows.map((row) => [String(row.get('id')), row.get('name') as string]));
  }

  async page(limit: number, pageToken: string | undefined): Promise<RowPage<UserRow>> {
    const { rows, nextPage } = await this.cql.page(this.q.page, [], limit, pageToken);
    return { items: rows.map(toUserRow), nextPage };
  }

  /** False when the user does not exist (nothing is written then). */
  async rename(id: string, name: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.rename, [name, id]));
  }

  /** False when the user did not exist. */
  async delete(id: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.delete, [id]));
  }

  async truncate(): Promise<void> {
    await this.cql.execute(this.q.truncate);
  }
}
