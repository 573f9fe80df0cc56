import { Controller, Get, Query } from '@nestjs/common';
import {
  BaseClient,
  type PageQuery,
  pageQuerySchema,
  type Paged,
  type ProfileDto,
  type UserDto,
} from '@app/base-client';

/** Users and profiles, paged, straight from base (same query rules as base's own). */
@Controller()
export class DirectoryController {
  constructor(private readonly base: BaseClient) {}

  @Get('users')
  users(@Query({ schema: pageQuerySchema }) query: PageQuery): Promise<Paged<UserDto>> {
    return this.base.listUsers(query.limit, query.page);
  }

  @Get('profiles')
  profiles(@Query({ schema: pageQuerySchema }) query: PageQuery): Promise<Paged<ProfileDto>> {
    return this.base.listProfiles(query.limit, query.page);
  }
}
