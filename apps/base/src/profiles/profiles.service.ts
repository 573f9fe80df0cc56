import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Paged, ProfileDto } from '@app/base-client/contract';
import { AppError } from '@app/errors';
import { ProfilesRepository } from '../storage/profiles.repository.js';
import { UsersRepository } from '../storage/users.repository.js';
import { userNotFound } from '../users/users.service.js';
import { toProfileDto } from './dto/profile.dto.js';

function profileNotFound(id: string): AppError {
  return new AppError('PROFILE_NOT_FOUND', `Profile ${id} does not exist`);
}

@Injectable()
export class ProfilesService {
  constructor(
    private readonly profiles: ProfilesRepository,
    private readonly users: UsersRepository,
  ) {}

  /** Every id in `userIds` must name an existing user; otherwise 422 naming the unknown ones. */
  async create(name: string, userIds: readonly string[]): Promise<ProfileDto> {
    const existing = await this.users.findExistingIds(userIds);
    const unknown = userIds.filter((id) => !existing.has(id));
    if (unknown.length > 0) {
      throw new AppError('UNKNOWN_USERS', `Unknown user ids: ${unknown.join(', ')}`, {
        details: { unknownUserIds: unknown },
      });
    }
    const row = { id: randomUUID(), name, userIds: [...userIds].sort(), createdAt: new Date() };
    await this.profiles.insert(row);
    return toProfileDto(row);
  }

  async get(id: string): Promise<ProfileDto> {
    const row = await this.profiles.findById(id);
    if (!row) throw profileNotFound(id);
    return toProfileDto(row);
  }

  async list(limit: number, page: string | undefined): Promise<Paged<ProfileDto>> {
    const { items, nextPage } = await this.profiles.page(limit, page);
    return nextPage ? { items: items.map(toProfileDto), nextPage } : { items: items.map(toProfileDto) };
  }

  async rename(id: string, name: string): Promise<ProfileDto> {
    if (!(await this.profiles.rename(id, name))) throw profileNotFound(id);
    return this.get(id);
  }

  async delete(id: string): Promise<void> {
    if (!(await this.profiles.delete(id))) throw profileNotFound(id);
  }

  async bind(id: string, userId: string): Promise<void> {
    if (!(await this.users.findById(userId))) throw userNotFound(userId);
    if (!(await this.profiles.bind(id, userId))) throw profileNotFound(id);
  }

  async unbind(id: string, userId: string): Promise<void> {
    if (!(await this.profiles.unbind(id, userId))) throw profileNotFound(id);
  }

  /**
   * The cheap check the stream tier makes before locking: resolves when bound. One read on the
   * happy path; a second only to tell "unknown user" from "not bound".
   */
  async assertBound(id: string, userId: string): Promise<void> {
    const userIds = await this.profiles.findUserIds(id);
    if (!userIds) throw profileNotFound(id);
    if (userIds.has(userId)) return;
    if (!(await this.users.findById(userId))) throw userNotFound(userId);
    throw new AppError('BINDING_NOT_FOUND', `User ${userId} is not bound to profile ${id}`);
  }

  async deleteAll(): Promise<void> {
    await this.profiles.truncate();
  }
}
