import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  type Items,
  type PageQuery,
  pageQuerySchema,
  type Paged,
  type ProfileDto,
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

  @Get(':id/profiles')
  profiles(@IdParam('id') id: string): Promise<Items<ProfileDto>> {
    return this.users.profilesOf(id);
  }
}
