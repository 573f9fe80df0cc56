import { Module } from '@nestjs/common';
import { StorageModule } from '../storage/storage.module.js';
import { RankingService } from './ranking.service.js';

@Module({ imports: [StorageModule], providers: [RankingService], exports: [RankingService] })
export class RankingModule {}
