import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { LockModule } from '@app/lock';
import { JobStore } from './job-store.js';
import { TestdataController } from './testdata.controller.js';
import { TestdataService } from './testdata.service.js';

@Module({
  imports: [AuthModule, BaseClientModule, LockModule],
  controllers: [TestdataController],
  providers: [TestdataService, JobStore],
})
export class TestdataModule {}
