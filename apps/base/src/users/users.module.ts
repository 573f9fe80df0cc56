import { Module } from '@nestjs/common';
import { RankingModule } from '../ranking/ranking.module.js';
import { StorageModule } from '../storage/storage.module.js';
import { UsersController } from './users.controller.js';
import { UsersService } from './users.service.js';

@Module({
  imports: [StorageModule, RankingModule],
  controllers: [UsersController],
  providers: [UsersService],
})
export class UsersModule {}
