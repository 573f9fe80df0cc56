import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  bindingPageQuerySchema,
  type CreateUsersBody,
  createUsersSchema,
  type Items,
  type PageQuery,
  pageQuerySchema,
  type Paged,
  type ProfileRefDto,
  type RankUsersBody,
  rankUsersSchema,
  type UserBody,
  userBodySchema,
  type UserDto,
} from '@app/base-client/contract';
import { AdminGuard, IdParam } from '@app/http';
import { UsersService } from './users.service.js';

@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get()
  list(@Query({ schema: pageQuerySchema }) query: PageQuery): Promise<Paged<UserDto>> {
    return this.users.list(query.limit, query.page);
  }

  @Post()
  async create(
    @Body({ schema: userBodySchema }) body: UserBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<UserDto> {
    const user = await this.users.create(body.name);
    void reply.header('Location', `/users/${user.id}`);
    return user;
  }

  /** Many users at once (admin): `{items}` in `names` order. */
  @Post('batch')
  @UseGuards(AdminGuard)
  async createMany(@Body({ schema: createUsersSchema }) body: CreateUsersBody): Promise<Items<UserDto>> {
    return { items: await this.users.createMany(body.names) };
  }

  /** Re-ranks users in the suggestions after bulk binding without it (admin). */
  @Post('rank')
  @UseGuards(AdminGuard)
  @HttpCode(204)
  async rank(@Body({ schema: rankUsersSchema }) body: RankUsersBody): Promise<void> {
    await this.users.rank(body.userIds);
  }

  @Delete()
  @UseGuards(AdminGuard)
  @HttpCode(204)
  async deleteAll(): Promise<void> {
    await this.users.deleteAll();
  }

  @Get(':id')
  get(@IdParam('id') id: string): Promise<UserDto> {
    return this.users.get(id);
  }

  @Put(':id')
  rename(@IdParam('id') id: string, @Body({ schema: userBodySchema }) body: UserBody): Promise<UserDto> {
    return this.users.rename(id, body.name);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@IdParam('id') id: string): Promise<void> {
    await this.users.delete(id);
  }

  /** The user's profile ids, paged (up to 10,000 a page): what a login reads. */
  @Get(':id/profile-ids')
  profileIds(
    @IdParam('id') id: string,
    @Query({ schema: bindingPageQuerySchema }) query: PageQuery,
  ): Promise<Paged<string>> {
    return this.users.profileIdsOf(id, query.limit, query.page);
  }

  /** The user's profiles `{id, name}`, paged (up to 10,000 a page). */
  @Get(':id/profiles')
  profiles(
    @IdParam('id') id: string,
    @Query({ schema: bindingPageQuerySchema }) query: PageQuery,
  ): Promise<Paged<ProfileRefDto>> {
    return this.users.profilesOf(id, query.limit, query.page);
  }
}
