import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { Access, AuthGuard } from '@app/auth';
import {
  BaseClient,
  type PageQuery,
  pageQuerySchema,
  type Paged,
  type ProfileDto,
  type UserDto,
} from '@app/base-client';

/**
 * Users and profiles, paged, straight from base (same query rules as base's own): every pair,
 * so for the admin token (or development).
 */
@Controller()
@UseGuards(AuthGuard)
export class DirectoryController {
  constructor(private readonly base: BaseClient) {}

  @Get('users')
  @Access({ kind: 'directory' })
  users(@Query({ schema: pageQuerySchema }) query: PageQuery): Promise<Paged<UserDto>> {
    return this.base.listUsers(query.limit, query.page);
  }

  @Get('profiles')
  @Access({ kind: 'directory' })
  profiles(@Query({ schema: pageQuerySchema }) query: PageQuery): Promise<Paged<ProfileDto>> {
    return this.base.listProfiles(query.limit, query.page);
  }
}
