import { Module } from '@nestjs/common';
import { CassandraModule } from '../cassandra/cassandra.module.js';
import { BindingsRepository } from './bindings.repository.js';
import { ProfilesRepository } from './profiles.repository.js';
import { RankingRepository } from './ranking.repository.js';
import { TotalsRepository } from './totals.repository.js';
import { UsersRepository } from './users.repository.js';

const REPOSITORIES = [UsersRepository, ProfilesRepository, BindingsRepository, TotalsRepository, RankingRepository];

/** Every repository, so users and profiles can each use the other's tables without a module cycle. */
@Module({
  imports: [CassandraModule],
  providers: REPOSITORIES,
  exports: REPOSITORIES,
})
export class StorageModule {}
