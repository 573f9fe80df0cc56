import { Injectable } from '@nestjs/common';
import cassandra from 'cassandra-driver';
import { type BulkOptions, Cql } from '../cassandra/cql.js';

export type Total = 'users' | 'profiles';

/** The `totals` counters: how many users and profiles exist, maintained with every create and delete. */
@Injectable()
export class TotalsRepository {
  private readonly q;
  private readonly listeners: (() => void)[] = [];

  constructor(private readonly cql: Cql) {
    const t = `${cql.keyspace}.totals`;
    this.q = {
      add: `UPDATE ${t} SET n = n + ? WHERE name = ?`,
      read: `SELECT name, n FROM ${t} WHERE name IN ('users', 'profiles')`,
      truncate: `TRUNCATE ${t}`,
    };
  }

  /** Calls `listener` after each change this process makes to the totals (or tries to: a failed counter write may have applied). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Adds `delta` (negative to subtract). Not idempotent: a counter write is never retried. */
  async add(name: Total, delta: number, options: BulkOptions = {}): Promise<void> {
    if (delta === 0) return;
    try {
      await this.cql.execute(this.q.add, [cassandra.types.Long.fromNumber(delta), name], {
        isIdempotent: false,
        ...options,
      });
    } finally {
      this.changed();
    }
  }

  async read(): Promise<Record<Total, number>> {
    const totals = { users: 0, profiles: 0 };
    for (const row of (await this.cql.execute(this.q.read)).rows) {
      totals[row.get('name') as Total] = Number(row.get('n'));
    }
    return totals;
  }

  async truncate(): Promise<void> {
    try {
      await this.cql.execute(this.q.truncate);
    } finally {
      this.changed();
    }
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}
