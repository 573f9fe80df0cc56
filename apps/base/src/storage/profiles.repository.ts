import { Injectable } from '@nestjs/common';
import { Cql, type Params } from '../cassandra/cql.js';
import { type ProfileRow, type RowPage, toProfileRow, wasApplied } from './rows.js';

/** The `profiles` table. Bindings live in their own tables (`BindingsRepository`). */
@Injectable()
export class ProfilesRepository {
  private readonly q;

  constructor(private readonly cql: Cql) {
    const t = `${cql.keyspace}.profiles`;
    this.q = {
      insert: `INSERT INTO ${t} (id, name, created_at) VALUES (?, ?, ?)`,
      byId: `SELECT id, name, created_at FROM ${t} WHERE id = ?`,
      page: `SELECT id, name, created_at FROM ${t}`,
      rename: `UPDATE ${t} SET name = ? WHERE id = ? IF EXISTS`,
      delete: `DELETE FROM ${t} WHERE id = ? IF EXISTS`,
      truncate: `TRUNCATE ${t}`,
    };
  }

  async insert(profile: ProfileRow): Promise<void> {
    await this.cql.execute(this.q.insert, [profile.id, profile.name, profile.createdAt]);
  }

  /** Many new profiles, `concurrency` writes in flight (each profile is its own partition). */
  async insertMany(profiles: readonly ProfileRow[], concurrency: number): Promise<void> {
    const params: Params[] = profiles.map((p) => [p.id, p.name, p.createdAt]);
    await this.cql.concurrent(this.q.insert, params, concurrency, { bulk: true });
  }

  async findById(id: string): Promise<ProfileRow | undefined> {
    const row = (await this.cql.execute(this.q.byId, [id])).first();
    return row ? toProfileRow(row) : undefined;
  }

  async page(limit: number, pageToken: string | undefined): Promise<RowPage<ProfileRow>> {
    const { rows, nextPage } = await this.cql.page(this.q.page, [], limit, pageToken);
    return { items: rows.map(toProfileRow), nextPage };
  }

  async rename(id: string, name: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.rename, [name, id]));
  }

  async delete(id: string): Promise<boolean> {
    return wasApplied(await this.cql.execute(this.q.delete, [id]));
  }

  async truncate(): Promise<void> {
    await this.cql.execute(this.q.truncate);
  }
}
