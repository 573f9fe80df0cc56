import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { LockModule } from '@app/lock';
import { ActiveProfilesController } from './active-profiles.controller.js';
import { ActiveProfilesService } from './active-profiles.service.js';

@Module({
  imports: [AuthModule, BaseClientModule, LockModule],
  controllers: [ActiveProfilesController],
  providers: [ActiveProfilesService],
})
export class ActiveProfilesModule {}
