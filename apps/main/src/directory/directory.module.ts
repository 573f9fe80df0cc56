import { Module } from '@nestjs/common';
import { BaseClientModule } from '@app/base-client';
import { DirectoryController } from './directory.controller.js';

@Module({ imports: [BaseClientModule], controllers: [DirectoryController] })
export class DirectoryModule {}
