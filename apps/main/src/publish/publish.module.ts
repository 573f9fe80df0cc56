import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { LockModule } from '@app/lock';
import { PublishController } from './publish.controller.js';
import { PublishGuard } from './publish.guard.js';
import { PublishService } from './publish.service.js';

@Module({
  imports: [AuthModule, BaseClientModule, LockModule],
  controllers: [PublishController],
  providers: [PublishService, PublishGuard],
})
export class PublishModule {}
