import { Controller, Get } from '@nestjs/common';
import { IdParam } from '@app/http';
import { ActiveProfilesService, type Login } from './active-profiles.service.js';

@Controller('login')
export class ActiveProfilesController {
  constructor(private readonly active: ActiveProfilesService) {}

  /** `{userId, activeProfiles:[{profileId, pod, since}]}`: the user's profiles that are live now. */
  @Get(':userId')
  login(@IdParam('userId') userId: string): Promise<Login> {
    return this.active.login(userId);
  }
}
