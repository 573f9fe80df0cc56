import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { DirectoryController } from './directory.controller.js';

@Module({ imports: [AuthModule, BaseClientModule], controllers: [DirectoryController] })
export class DirectoryModule {}
