import { randomBytes } from 'node:crypto';
import { type AppName, type ConfigOf, loadConfig } from '@app/config';

/**
 * Where the test run's real Cassandra and Redis are. `npm test` starts them and sets these
 * variables; a test file run without them fails at once instead of skipping.
 */
export function testInfra(): { cassandraContactPoint: string; redisUrl: string } {
  const cassandraContactPoint = process.env.CASSANDRA_CONTACT_POINTS;
  const redisUrl = process.env.REDIS_URL;
  if (!cassandraContactPoint || !redisUrl) {
    throw new Error(
      'CASSANDRA_CONTACT_POINTS and REDIS_URL must point at running servers: run the suite with `npm test`',
    );
  }
  return { cassandraContactPoint, redisUrl };
}

/** A keyspace name of its own for one test file, so files never see each other's data. */
export function uniqueKeyspace(label: string): string {
  return `t_${label
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 20)}_${randomBytes(4).toString('hex')}`;
}

/** A validated config for `app` from the test environment plus `overrides`. */
export function testConfig<A extends AppName>(app: A, overrides: Record<string, string> = {}): ConfigOf[A] {
  return loadConfig(app, { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...overrides });
}
