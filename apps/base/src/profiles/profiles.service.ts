import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import {
  type CreatedProfileDto,
  type CreateProfilesBody,
  type Paged,
  PROFILE_USERS_PREVIEW,
  type ProfileDto,
} from '@app/base-client/contract';
import { AppError } from '@app/errors';
import { mapWithConcurrency } from '@app/async';
import type { BulkOptions } from '../cassandra/cql.js';
import { RankingService } from '../ranking/ranking.service.js';
import { MAX_BATCH_BYTES } from '../storage/batch-size.js';
import { BINDINGS_PER_BATCH, BindingsRepository } from '../storage/bindings.repository.js';
import { ProfilesRepository } from '../storage/profiles.repository.js';
import { TotalsRepository } from '../storage/totals.repository.js';
import { UsersRepository } from '../storage/users.repository.js';
import { type BindingRow, type ProfileRow, toPaged } from '../storage/rows.js';
import { forEachPage, SWEEP_PAGE } from '../storage/sweep.js';
import { WRITE_CONCURRENCY } from '../users/users.service.js';
import { type NewProfile, planBindingGroups } from './binding-groups.js';
import { toProfileDto } from './dto/profile.dto.js';

/** A bulk request's reads and counter writes wait as long as its writes (see `BULK_TIMEOUT_MS`). */
const BULK: BulkOptions = { bulk: true };
/** Logged batches of bindings in flight for one request. */
const BATCH_CONCURRENCY = 8;
/** Profiles whose first users are read at once for a page of profiles. */
const READ_CONCURRENCY = 16;
/** Ids per existence check (one multi-partition read each). */
const IDS_PER_CHECK = 100;

@Injectable()
export class ProfilesService {
  constructor(
    private readonly profiles: ProfilesRepository,
    private readonly users: UsersRepository,
    private readonly bindings: BindingsRepository,
    private readonly totals: TotalsRepository,
    private readonly ranking: RankingService,
  ) {}

  /** Every id in `userIds` must name an existing user; otherwise 422 naming the unknown ones. */
  async create(name: string, userIds: readonly string[]): Promise<ProfileDto> {
    await this.assertUsersExist(userIds);
    const row = { id: randomUUID(), name, createdAt: new Date() };
    await this.profiles.insert(row);
    await this.totals.add('profiles', 1);
    const bindings = userIds.map((userId) => ({ profileId: row.id, profileName: name, userId }));
    try {
      await this.bindings.bind(bindings, BATCH_CONCURRENCY);
      // A user deleted between the check and the binding was not unbound by its DELETE (the
      // binding did not exist yet): look again and take the profile back, so nothing is written.
      await this.assertUsersExist(userIds);
    } catch (error) {
      await this.takeBack(row.id, bindings).catch(() => undefined);
      throw error;
    }
    await this.ranking.rerank(userIds);
    return toProfileDto(row, [...userIds].sort());
  }

  /**
   * Many profiles at once, each with the users made for it and existing users bound to it: the
   * profiles one write each (64 in flight); then each new user's row with its binding, and the
   * existing users' bindings, in logged batches of up to 100 bindings gathered by partition
   * (`planBindingGroups`, 8 in flight); then the counters; then — unless `rank` is false — the
   * existing users' ranking (users made here have one binding, so they are not ranked).
   */
  async createMany(request: CreateProfilesBody): Promise<CreatedProfileDto[]> {
    const existing = [...new Set(request.profiles.flatMap((p) => p.userIds))];
    await this.assertUsersExist(existing, BULK);
    const createdAt = new Date();
    const planned: NewProfile[] = request.profiles.map((spec) => ({
      profile: { id: randomUUID(), name: spec.name, createdAt },
      newUsers: spec.newUsers.map((userName) => ({ id: randomUUID(), name: userName, createdAt })),
      userIds: spec.userIds,
    }));
    await this.profiles.insertMany(
      planned.map((p) => p.profile),
      WRITE_CONCURRENCY,
    );
    await this.totals.add('profiles', planned.length, BULK);
    const groups = planBindingGroups(planned, BINDINGS_PER_BATCH, MAX_BATCH_BYTES).map((group) => ({
      bindings: group.bindings,
      rows: group.users.map((user) => this.users.insertStatement(user)),
    }));
    await this.bindings.bindGroups(groups, BATCH_CONCURRENCY);
    await this.totals.add(
      'users',
      planned.reduce((n, p) => n + p.newUsers.length, 0),
      BULK,
    );
    if (request.rank) await this.ranking.rerank(existing);
    return planned.map(({ profile, newUsers }) => ({
      id: profile.id,
      name: profile.name,
      newUserIds: newUsers.map((user) => user.id),
    }));
  }

  async get(id: string): Promise<ProfileDto> {
    const [row, userIds] = await Promise.all([
      this.profiles.findById(id),
      this.bindings.firstUsersOf(id, PROFILE_USERS_PREVIEW + 1),
    ]);
    if (!row) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    return toProfileDto(row, userIds);
  }

  /** A page of profiles, each with its first users: O(the page). */
  async list(limit: number, page: string | undefined): Promise<Paged<ProfileDto>> {
    const rows = await this.profiles.page(limit, page);
    const firstUsers = await mapWithConcurrency(rows.items, READ_CONCURRENCY, (row) =>
      this.bindings.firstUsersOf(row.id, PROFILE_USERS_PREVIEW + 1),
    );
    return toPaged(
      { items: rows.items.map((row, i) => toProfileDto(row, firstUsers[i]!)), nextPage: rows.nextPage },
      (dto) => dto,
    );
  }

  /** A page of the profile's user ids, in id order. */
  async usersOf(id: string, limit: number, page: string | undefined): Promise<Paged<string>> {
    const [row, userIds] = await Promise.all([this.profiles.findById(id), this.bindings.usersOf(id, limit, page)]);
    if (!row) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    return toPaged(userIds, (userId) => userId);
  }

  /**
   * Renames the profile, then the copy of its name in each of its users' lists of profiles
   * (O(its users), conditional so that a binding removed meanwhile does not come back).
   */
  async rename(id: string, name: string): Promise<ProfileDto> {
    if (!(await this.profiles.rename(id, name))) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    await forEachPage(
      (page) => this.bindings.usersOf(id, SWEEP_PAGE, page),
      async (userIds) => {
        await mapWithConcurrency(userIds, READ_CONCURRENCY, (userId) => this.bindings.renameFor(userId, id, name));
      },
    );
    return this.get(id);
  }

  /**
   * Deletes the row first, then every binding of the profile (its `profile_users` partition, a
   * page at a time) and re-ranks its users — the mirror of a user's deletion, with the same
   * answer to a racing bind. A repeated DELETE finishes a sweep that failed half-way (404 then).
   */
  async delete(id: string): Promise<void> {
    const existed = await this.profiles.delete(id);
    if (existed) await this.totals.add('profiles', -1);
    await forEachPage(
      (page) => this.bindings.usersOf(id, SWEEP_PAGE, page),
      async (userIds) => {
        await this.bindings.unbind(
          userIds.map((userId) => ({ profileId: id, userId })),
          BATCH_CONCURRENCY,
        );
        await this.ranking.rerank(userIds);
      },
    );
    if (!existed) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
  }

  /**
   * Binds an existing user to an existing profile (both rows in one logged batch). A user or
   * profile DELETE deletes the row first and then sweeps the bindings it finds; a bind that
   * raced it looks at both again after binding and undoes itself — so whatever the
   * interleaving, nothing deleted is left bound. A rename racing it is caught the same way.
   */
  async bind(id: string, userId: string): Promise<void> {
    const profile = await this.existingProfile(id, userId);
    const binding = { profileId: id, profileName: profile.name, userId };
    await this.bindings.bind([binding]);
    let after: ProfileRow | undefined;
    try {
      after = await this.existingProfile(id, userId).catch((error: unknown) => {
        if (error instanceof AppError && error.status === 404) return undefined;
        throw error;
      });
    } catch (error) {
      // Unsure whether both still exist: take the binding back; the caller sees 503 and retries.
      await this.bindings.unbind([binding]).catch(() => undefined);
      throw error;
    }
    if (!after) {
      await this.bindings.unbind([binding]);
      await this.existingProfile(id, userId); // throws the 404 that says which one is gone
    } else if (after.name !== profile.name) {
      await this.bindings.renameFor(userId, id, after.name);
    }
    await this.ranking.rerank([userId]);
  }

  async unbind(id: string, userId: string): Promise<void> {
    if (!(await this.profiles.findById(id))) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    await this.bindings.unbind([{ profileId: id, userId }]);
    await this.ranking.rerank([userId]);
  }

  /**
   * The cheap check the stream tier makes before locking: resolves when bound. Three one-row
   * reads in parallel, whatever the profile's size: the binding, the profile and the user
   * itself, so a user being deleted (row gone, bindings not yet swept) never passes.
   */
  async assertBound(id: string, userId: string): Promise<void> {
    const [bound, profile, user] = await Promise.all([
      this.bindings.isBound(id, userId),
      this.profiles.findById(id),
      this.users.findById(userId),
    ]);
    if (!profile) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    if (!user) throw AppError.of('USER_NOT_FOUND', { userId });
    if (!bound) throw AppError.of('BINDING_NOT_FOUND', { userId, profileId: id });
  }

  /** Drops every profile: the profiles table, both binding tables and the ranking are truncated. */
  async deleteAll(): Promise<void> {
    await this.profiles.truncate();
    await this.bindings.truncate();
    await this.ranking.truncate();
    await this.totals.add('profiles', -(await this.totals.read()).profiles);
  }

  private async existingProfile(id: string, userId: string): Promise<ProfileRow> {
    const [profile, user] = await Promise.all([this.profiles.findById(id), this.users.findById(userId)]);
    if (!user) throw AppError.of('USER_NOT_FOUND', { userId });
    if (!profile) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    return profile;
  }

  private async takeBack(profileId: string, bindings: readonly BindingRow[]): Promise<void> {
    await this.bindings.unbind(bindings, BATCH_CONCURRENCY);
    if (await this.profiles.delete(profileId)) await this.totals.add('profiles', -1);
  }

  private async assertUsersExist(userIds: readonly string[], options: BulkOptions = {}): Promise<void> {
    const chunks: string[][] = [];
    for (let i = 0; i < userIds.length; i += IDS_PER_CHECK) chunks.push(userIds.slice(i, i + IDS_PER_CHECK));
    const found = await mapWithConcurrency(chunks, READ_CONCURRENCY, (ids) => this.users.findExistingIds(ids, options));
    const existing = new Set(found.flatMap((ids) => [...ids]));
    const unknown = userIds.filter((id) => !existing.has(id));
    if (unknown.length > 0) throw AppError.of('UNKNOWN_USERS', { unknownUserIds: unknown.slice(0, 100) });
  }
}
