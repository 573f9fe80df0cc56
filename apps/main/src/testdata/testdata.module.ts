import { Module } from '@nestjs/common';
import { BaseClientModule } from '@app/base-client';
import { TestdataController } from './testdata.controller.js';
import { TestdataService } from './testdata.service.js';

@Module({ imports: [BaseClientModule], controllers: [TestdataController], providers: [TestdataService] })
export class TestdataModule {}
