import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Paged, ProfileDto } from '@app/base-client/contract';
import { AppError } from '@app/errors';
import { ProfilesRepository } from '../storage/profiles.repository.js';
import { UsersRepository } from '../storage/users.repository.js';
import { toPaged } from '../storage/rows.js';
import { toProfileDto } from './dto/profile.dto.js';

@Injectable()
export class ProfilesService {
  constructor(
    private readonly profiles: ProfilesRepository,
    private readonly users: UsersRepository,
  ) {}

  /** Every id in `userIds` must name an existing user; otherwise 422 naming the unknown ones. */
  async create(name: string, userIds: readonly string[]): Promise<ProfileDto> {
    await this.assertUsersExist(userIds);
    const row = { id: randomUUID(), name, userIds: [...userIds].sort(), createdAt: new Date() };
    await this.profiles.insert(row);
    // A user deleted between the check and the insert was not unbound by its DELETE (the profile
    // did not exist yet): look again and take the profile back, so nothing is written.
    try {
      await this.assertUsersExist(userIds);
    } catch (error) {
      await this.profiles.delete(row.id).catch(() => undefined);
      throw error;
    }
    return toProfileDto(row);
  }

  async get(id: string): Promise<ProfileDto> {
    const row = await this.profiles.findById(id);
    if (!row) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    return toProfileDto(row);
  }

  async list(limit: number, page: string | undefined): Promise<Paged<ProfileDto>> {
    return toPaged(await this.profiles.page(limit, page), toProfileDto);
  }

  async rename(id: string, name: string): Promise<ProfileDto> {
    if (!(await this.profiles.rename(id, name))) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.profiles.delete(id))) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
  }

  /**
   * Binds an existing user. A user DELETE deletes the row first and then unbinds whatever it finds;
   * a bind that raced it looks at the user again after binding and undoes itself — so whatever the
   * interleaving, a deleted user is not left bound (see UsersService.delete).
   */
  async bind(id: string, userId: string): Promise<void> {
    if (!(await this.users.findById(userId))) throw AppError.of('USER_NOT_FOUND', { userId });
    if (!(await this.profiles.bind(id, userId))) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    let stillThere: boolean;
    try {
      stillThere = (await this.users.findById(userId)) !== undefined;
    } catch (error) {
      // Unsure whether the user still exists: take the binding back; the caller sees 503 and retries.
      await this.profiles.unbind(id, userId).catch(() => undefined);
      throw error;
    }
    if (!stillThere) {
      await this.profiles.unbind(id, userId);
      throw AppError.of('USER_NOT_FOUND', { userId });
    }
  }

  async unbind(id: string, userId: string): Promise<void> {
    if (!(await this.profiles.unbind(id, userId))) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
  }

  /**
   * The cheap check the stream tier makes before locking: resolves when bound. Two reads in
   * parallel: the profile's users and the user itself, so a user being deleted (row gone,
   * bindings not yet swept) never passes.
   */
  async assertBound(id: string, userId: string): Promise<void> {
    const [userIds, user] = await Promise.all([this.profiles.findUserIds(id), this.users.findById(userId)]);
    if (!userIds) throw AppError.of('PROFILE_NOT_FOUND', { profileId: id });
    if (!user) throw AppError.of('USER_NOT_FOUND', { userId });
    if (!userIds.has(userId)) throw AppError.of('BINDING_NOT_FOUND', { userId, profileId: id });
  }

  private async assertUsersExist(userIds: readonly string[]): Promise<void> {
    const existing = await this.users.findExistingIds(userIds);
    const unknown = userIds.filter((id) => !existing.has(id));
    if (unknown.length > 0) {
      throw AppError.of('UNKNOWN_USERS', { unknownUserIds: unknown });
    }
  }

  async deleteAll(): Promise<void> {
    await this.profiles.truncate();
  }
}
