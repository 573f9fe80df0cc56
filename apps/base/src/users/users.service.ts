import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Items, Paged, ProfileDto, UserDto } from '@app/base-client/contract';
import { AppError } from '@app/errors';
import { mapWithConcurrency } from '@app/http';
import { toProfileDto } from '../profiles/dto/profile.dto.js';
import { ProfilesRepository } from '../storage/profiles.repository.js';
import { UsersRepository } from '../storage/users.repository.js';
import { toPaged } from '../storage/rows.js';
import { toUserDto } from './dto/user.dto.js';

const WRITE_CONCURRENCY = 16;

@Injectable()
export class UsersService {
  constructor(
    private readonly users: UsersRepository,
    private readonly profiles: ProfilesRepository,
  ) {}

  async create(name: string): Promise<UserDto> {
    const row = { id: randomUUID(), name, createdAt: new Date() };
    await this.users.insert(row);
    return toUserDto(row);
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
   * Deletes the row first, then unbinds the user from every profile it is found in. The order
   * closes the race with a concurrent bind: the bind looks at the user again after binding, so
   * either it sees the row gone and undoes itself, or its binding is there for this sweep to find.
   * The sweep runs even when the user is already gone, so repeating a DELETE that failed half-way
   * (503) finishes it; it answers 404 then.
   */
  async delete(id: string): Promise<void> {
    const existed = await this.users.delete(id);
    const bound = await this.profiles.findByUser(id);
    await mapWithConcurrency(bound, WRITE_CONCURRENCY, (profile) => this.profiles.unbind(profile.id, id));
    if (!existed) throw AppError.of('USER_NOT_FOUND', { userId: id });
  }

  async profilesOf(id: string): Promise<Items<ProfileDto>> {
    const [user, profiles] = await Promise.all([this.users.findById(id), this.profiles.findByUser(id)]);
    if (!user) throw AppError.of('USER_NOT_FOUND', { userId: id });
    return { items: profiles.map(toProfileDto) };
  }

  /** Drops every user and empties every profile's binding set. */
  async deleteAll(): Promise<void> {
    await this.users.truncate();
    const ids = await this.profiles.allIds();
    await mapWithConcurrency(ids, WRITE_CONCURRENCY, (profileId) => this.profiles.clearUsers(profileId));
  }
}
