import { Controller, Get, UseGuards } from '@nestjs/common';
import { Access, AuthGuard } from '@app/auth';
import { IdParam } from '@app/http';
import { ActiveProfilesService, type Login } from './active-profiles.service.js';

@Controller('login')
export class ActiveProfilesController {
  constructor(private readonly active: ActiveProfilesService) {}

  /**
   * `{userId, activeProfiles:[{profileId, pod, since}]}`: the user's profiles that are live now.
   * Only for that user's own token, or the admin token.
   */
  @Get(':userId')
  @UseGuards(AuthGuard)
  @Access({ kind: 'user', param: 'userId' })
  login(@IdParam('userId') userId: string): Promise<Login> {
    return this.active.login(userId);
  }
}
