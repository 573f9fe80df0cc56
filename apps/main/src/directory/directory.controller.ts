import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { Access, AuthGuard } from '@app/auth';
import { BaseClient, type Paged, type ProfileDto, type UserDto } from '@app/base-client';

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  page: z.string().min(1).max(4096).optional(),
});
type PageQuery = z.infer<typeof pageQuery>;

/** Users and profiles, paged, straight from base: every pair, so for the admin token (or development). */
@Controller('main')
@UseGuards(AuthGuard)
export class DirectoryController {
  constructor(private readonly base: BaseClient) {}

  @Get('users')
  @Access({ kind: 'directory' })
  users(@Query({ schema: pageQuery }) query: PageQuery): Promise<Paged<UserDto>> {
    return this.base.listUsers(query.limit, query.page);
  }

  @Get('profiles')
  @Access({ kind: 'directory' })
  profiles(@Query({ schema: pageQuery }) query: PageQuery): Promise<Paged<ProfileDto>> {
    return this.base.listProfiles(query.limit, query.page);
  }
}
