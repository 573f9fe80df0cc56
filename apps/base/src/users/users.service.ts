import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Paged, ProfileRefDto, UserDto } from '@app/base-client/contract';
import { AppError } from '@app/errors';
import { RankingService } from '../ranking/ranking.service.js';
import { BindingsRepository } from '../storage/bindings.repository.js';
import { TotalsRepository } from '../storage/totals.repository.js';
import { UsersRepository } from '../storage/users.repository.js';
import { forEachPage, SWEEP_PAGE } from '../storage/sweep.js';
import { toPaged } from '../storage/rows.js';
import { toUserDto } from './dto/user.dto.js';

/** Writes in flight for one bulk request. */
export const WRITE_CONCURRENCY = 64;
const BATCH_CONCURRENCY = 8;

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly bindings: BindingsRepository,
    private readonly totals: TotalsRepository,
    private readonly ranking: RankingService,
  ) {}

  async create(name: string): Promise<UserDto> {
    const row = { id: randomUUID(), name, createdAt: new Date() };
    await this.users.insert(row);
    await this.totals.add('users', 1);
    return toUserDto(row);
  }

  /** Many users: one write each (every user is its own partition), 64 in flight, then the count. */
  async createMany(names: readonly string[]): Promise<UserDto[]> {
    const createdAt = new Date();
    const rows = names.map((name) => ({ id: randomUUID(), name, createdAt }));
    await this.users.insertMany(rows, WRITE_CONCURRENCY);
    await this.totals.add('users', rows.length, { bulk: true });
    return rows.map(toUserDto);
  }

  async get(id: string): Promise<UserDto> {
    const row = await this.users.findById(id);
    if (!row) throw AppError.of('USER_NOT_FOUND', { userId: id });
    return toUserDto(row);
  }

  async list(limit: number, page: string | undefined): Promise<Paged<UserDto>> {
    return toPaged(await this.users.page(limit, page), toUserDto);
  }

  async rename(id: string, name: string): Promise<UserDto> {
    if (!(await this.users.rename(id, name))) throw AppError.of('USER_NOT_FOUND', { userId: id });
    return this.get(id);
  }

  /**
   * Deletes the row first, then removes every binding of the user (its `user_profiles`
   * partition, a page at a time) and its ranking. The order closes the race with a concurrent
   * bind: the bind looks at the user again after binding, so either it sees the row gone and
   * undoes itself, or its binding is there for this sweep to find. The sweep runs even when the
   * user is already gone, so repeating a DELETE that failed half-way (503) finishes it; it
   * answers 404 then.
   */
  async delete(id: string): Promise<void> {
    const existed = await this.users.delete(id);
    if (existed) await this.totals.add('users', -1);
    await forEachPage(
      (page) => this.bindings.profilesOf(id, SWEEP_PAGE, page),
      (profiles) =>
        this.bindings.unbind(
          profiles.map((profile) => ({ profileId: profile.id, userId: id })),
          BATCH_CONCURRENCY,
        ),
    );
    await this.ranking.rerank([id]);
    if (!existed) throw AppError.of('USER_NOT_FOUND', { userId: id });
  }

  /** A page of the user's profiles (id and name), from its own partition: O(the page). */
  async profilesOf(id: string, limit: number, page: string | undefined): Promise<Paged<ProfileRefDto>> {
    const [user, profiles] = await Promise.all([this.users.findById(id), this.bindings.profilesOf(id, limit, page)]);
    if (!user) throw AppError.of('USER_NOT_FOUND', { userId: id });
    return toPaged(profiles, (profile) => profile);
  }

  /** A page of the user's profile ids only (a login's question), from its own partition. */
  async profileIdsOf(id: string, limit: number, page: string | undefined): Promise<Paged<string>> {
    const [user, ids] = await Promise.all([this.users.findById(id), this.bindings.profileIdsOf(id, limit, page)]);
    if (!user) throw AppError.of('USER_NOT_FOUND', { userId: id });
    return toPaged(ids, (profileId) => profileId);
  }

  /** Re-ranks users in the suggestions (after bulk binding with `rank: false`). */
  async rank(userIds: readonly string[]): Promise<void> {
    await this.ranking.rerank(userIds);
  }

  /**
   * Drops every user: the users table, both binding tables and the ranking are truncated (bounded
   * time, whatever their size); profiles stay, unbound.
   */
  async deleteAll(): Promise<void> {
    await this.users.truncate();
    await this.bindings.truncate();
    await this.ranking.truncate();
    await this.totals.add('users', -(await this.totals.read()).users);
  }
}
