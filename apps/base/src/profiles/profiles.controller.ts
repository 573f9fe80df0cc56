import { Body, Controller, Delete, Get, HttpCode, Post, Put, Query, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import {
  bindingPageQuerySchema,
  type CreatedProfileDto,
  type CreateProfilesBody,
  createProfilesSchema,
  type Items,
  type CreateProfileBody,
  createProfileSchema,
  type PageQuery,
  pageQuerySchema,
  type Paged,
  type ProfileDto,
  type RenameProfileBody,
  renameProfileSchema,
} from '@app/base-client/contract';
import { AdminGuard, IdParam } from '@app/http';
import { ProfilesService } from './profiles.service.js';

@Controller('profiles')
export class ProfilesController {
  constructor(private readonly profiles: ProfilesService) {}

  @Get()
  list(@Query({ schema: pageQuerySchema }) query: PageQuery): Promise<Paged<ProfileDto>> {
    return this.profiles.list(query.limit, query.page);
  }

  @Post()
  async create(
    @Body({ schema: createProfileSchema }) body: CreateProfileBody,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<ProfileDto> {
    const profile = await this.profiles.create(body.name, body.userIds);
    void reply.header('Location', `/profiles/${profile.id}`);
    return profile;
  }

  /** Many profiles with users made for them and existing users bound (admin): `{items}` in order. */
  @Post('batch')
  @UseGuards(AdminGuard)
  async createMany(
    @Body({ schema: createProfilesSchema }) body: CreateProfilesBody,
  ): Promise<Items<CreatedProfileDto>> {
    return { items: await this.profiles.createMany(body) };
  }

  @Delete()
  @UseGuards(AdminGuard)
  @HttpCode(204)
  async deleteAll(): Promise<void> {
    await this.profiles.deleteAll();
  }

  @Get(':id')
  get(@IdParam('id') id: string): Promise<ProfileDto> {
    return this.profiles.get(id);
  }

  @Put(':id')
  rename(
    @IdParam('id') id: string,
    @Body({ schema: renameProfileSchema }) body: RenameProfileBody,
  ): Promise<ProfileDto> {
    return this.profiles.rename(id, body.name);
  }

  @Delete(':id')
  @HttpCode(204)
  async delete(@IdParam('id') id: string): Promise<void> {
    await this.profiles.delete(id);
  }

  /** The profile's user ids, paged (up to 10,000 a page). */
  @Get(':id/users')
  users(
    @IdParam('id') id: string,
    @Query({ schema: bindingPageQuerySchema }) query: PageQuery,
  ): Promise<Paged<string>> {
    return this.profiles.usersOf(id, query.limit, query.page);
  }

  @Get(':id/users/:userId')
  @HttpCode(204)
  async checkBinding(@IdParam('id') id: string, @IdParam('userId') userId: string): Promise<void> {
    await this.profiles.assertBound(id, userId);
  }

  @Put(':id/users/:userId')
  @HttpCode(204)
  async bind(@IdParam('id') id: string, @IdParam('userId') userId: string): Promise<void> {
    await this.profiles.bind(id, userId);
  }

  @Delete(':id/users/:userId')
  @HttpCode(204)
  async unbind(@IdParam('id') id: string, @IdParam('userId') userId: string): Promise<void> {
    await this.profiles.unbind(id, userId);
  }
}
