import type { BaseConfig } from '@app/config';
import type { Cql } from '../cassandra/cql.js';
import { FRESH_SCHEMA, type Migration, MIGRATIONS } from './migrations.js';

/**
 * Creates the keyspace (replication from config) and applies every migration not yet recorded in
 * `schema_migrations`, in version order. Returns the versions it applied.
 */
export async function runMigrations(
  cql: Cql,
  config: Pick<BaseConfig['cassandra'], 'keyspace' | 'localDc' | 'replicationFactor'>,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<number[]> {
  const ks = config.keyspace;
  // Identifiers cannot be bound; both were validated by the config schema.
  await cql.executeDdl(
    `CREATE KEYSPACE IF NOT EXISTS ${ks} WITH replication = ` +
      `{'class': 'NetworkTopologyStrategy', '${config.localDc}': ${config.replicationFactor}}`,
  );
  await cql.executeDdl(
    `CREATE TABLE IF NOT EXISTS ${ks}.schema_migrations (version int PRIMARY KEY, description text, applied_at timestamp)`,
  );
  const done = new Set(
    (await cql.execute(`SELECT version FROM ${ks}.schema_migrations`)).rows.map((row) => row.get('version') as number),
  );
  const applied: number[] = [];
  // A new keyspace takes the current schema in one step; only the full list of migrations knows it.
  const fresh = done.size === 0 && migrations === MIGRATIONS;
  // Distinct tables, so the coordinator may apply them in any order: one round trip's wait, not seven.
  if (fresh) await Promise.all(FRESH_SCHEMA(ks).map((statement) => cql.executeDdl(statement)));
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(migration.version)) continue;
    if (!fresh) {
      for (const statement of migration.statements(ks)) await cql.executeDdl(statement);
      await migration.run?.(cql, ks);
    }
    await cql.execute(`INSERT INTO ${ks}.schema_migrations (version, description, applied_at) VALUES (?, ?, ?)`, [
      migration.version,
      migration.description,
      new Date(),
    ]);
    applied.push(migration.version);
  }
  return applied;
}
