import { Module } from '@nestjs/common';
import { CassandraModule } from '../cassandra/cassandra.module.js';
import { ProfilesRepository } from './profiles.repository.js';
import { UsersRepository } from './users.repository.js';

/** Both repositories, so users and profiles can each use the other's table without a module cycle. */
@Module({
  imports: [CassandraModule],
  providers: [UsersRepository, ProfilesRepository],
  exports: [UsersRepository, ProfilesRepository],
})
export class StorageModule {}
