import { Controller, Get, Query } from '@nestjs/common';
import { z } from 'zod';
import { BaseClient, type Paged, type ProfileDto, type UserDto } from '@app/base-client';

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  page: z.string().min(1).max(4096).optional(),
});
type PageQuery = z.infer<typeof pageQuery>;

/** Users and profiles, paged, straight from base. */
@Controller('main')
export class DirectoryController {
  constructor(private readonly base: BaseClient) {}

  @Get('users')
  users(@Query({ schema: pageQuery }) query: PageQuery): Promise<Paged<UserDto>> {
    return this.base.listUsers(query.limit, query.page);
  }

  @Get('profiles')
  profiles(@Query({ schema: pageQuery }) query: PageQuery): Promise<Paged<ProfileDto>> {
    return this.base.listProfiles(query.limit, query.page);
  }
}
