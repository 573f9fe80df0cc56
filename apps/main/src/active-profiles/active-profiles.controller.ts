import { Controller, Get, UseGuards } from '@nestjs/common';
import { Access, AuthGuard } from '@app/auth';
import { IdParam } from '@app/http';
import { RateLimit, RateLimitGuard } from '../rate-limits/rate-limit.guard.js';
import { ActiveProfilesService, type Login } from './active-profiles.service.js';

@Controller('login')
export class ActiveProfilesController {
  constructor(private readonly active: ActiveProfilesService) {}

  /**
   * `{userId, activeProfiles:[{profileId, pod, since}]}`: the user's profiles that are live now.
   * Only for that user's own token, or the admin token.
   */
  @Get(':userId')
  @UseGuards(RateLimitGuard, AuthGuard)
  @RateLimit('login')
  @Access({ kind: 'user', param: 'userId' })
  login(@IdParam('userId') userId: string): Promise<Login> {
    return this.active.login(userId);
  }
}
