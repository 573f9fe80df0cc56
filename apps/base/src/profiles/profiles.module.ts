import { Module } from '@nestjs/common';
import { RankingModule } from '../ranking/ranking.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { ProfilesController } from './profiles.controller.js';
import { ProfilesService } from './profiles.service.js';

@Module({
  imports: [StorageModule, RankingModule],
  controllers: [ProfilesController],
  providers: [ProfilesService],
})
export class ProfilesModule {}
