import { loadConfig } from '@app/config';
import { Cql } from './cassandra/cql.js';
import { runMigrations } from './migrations/migration-runner.js';

/** `npm run migrate`: applies pending schema migrations and exits (used by the Kubernetes Job). */
const config = loadConfig('base', process.env);
const cql = await Cql.connect(config.cassandra);
try {
  const applied = await runMigrations(cql, config.cassandra);
  console.log(applied.length ? `applied migrations ${applied.join(', ')}` : 'schema is up to date');
} finally {
  await cql.close();
}
