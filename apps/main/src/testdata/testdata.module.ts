import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { TestdataController } from './testdata.controller.js';
import { TestdataService } from './testdata.service.js';

@Module({ imports: [AuthModule, BaseClientModule], controllers: [TestdataController], providers: [TestdataService] })
export class TestdataModule {}
