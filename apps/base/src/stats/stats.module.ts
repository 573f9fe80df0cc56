import { Module } from '@nestjs/common';
import { RankingModule } from '../ranking/ranking.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { StatsController } from './stats.controller.js';

@Module({ imports: [StorageModule, RankingModule], controllers: [StatsController] })
export class StatsModule {}
