import { Module } from '@nestjs/common';
import { BaseClientModule } from '@app/base-client';
import { SuggestedController } from './suggested.controller.js';
import { SuggestedService } from './suggested.service.js';

@Module({ imports: [BaseClientModule], controllers: [SuggestedController], providers: [SuggestedService] })
export class SuggestedModule {}
