import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { BaseClientModule } from '@app/base-client';
import { SuggestedController } from './suggested.controller.js';
import { SuggestedService } from './suggested.service.js';

@Module({ imports: [AuthModule, BaseClientModule], controllers: [SuggestedController], providers: [SuggestedService] })
export class SuggestedModule {}
