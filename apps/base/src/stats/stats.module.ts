import { Module } from '@nestjs/common';
import { ProfilesModule } from '../profiles/profiles.module.js';
import { RankingModule } from '../ranking/ranking.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { StatsController } from './stats.controller.js';

@Module({ imports: [StorageModule, RankingModule, ProfilesModule], controllers: [StatsController] })
export class StatsModule {}
