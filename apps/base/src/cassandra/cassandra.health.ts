import { Injectable } from '@nestjs/common';
import type { HealthIndicator } from '@app/health';
import { Cql } from './cql.js';

@Injectable()
export class CassandraHealthIndicator implements HealthIndicator {
  readonly name = 'cassandra';

  constructor(private readonly cql: Cql) {}

  check(): Promise<void> {
    return this.cql.ping();
  }
}
