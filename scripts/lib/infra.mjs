import { startCassandra } from '../../libs/infra/cassandra.mjs';
import { freePort } from '../../libs/infra/ports.mjs';
import { ensureRedisServer, startRedis } from '../../libs/infra/redis.mjs';
import { log, ROOT } from './project.mjs';

/**
 * Cassandra and Redis for a run. When CASSANDRA_CONTACT_POINTS / REDIS_URL are already set,
 * those servers are used and nothing is installed or started. Returns the env to hand the apps.
 */
export async function provideInfra(stack, { name, cqlPort, storagePort, redisPort, fresh = false }) {
  const env = {};
  const tasks = [];
  if (process.env.CASSANDRA_CONTACT_POINTS) {
    log(`using Cassandra at ${process.env.CASSANDRA_CONTACT_POINTS}`);
  } else {
    tasks.push(
      (async () => {
        const cassandra = await startCassandra({
          root: ROOT,
          name,
          cqlPort: cqlPort ?? (await freePort()),
          storagePort: storagePort ?? (await freePort()),
          fresh,
          log,
        });
        stack.push('cassandra', cassandra.stop);
        env.CASSANDRA_CONTACT_POINTS = cassandra.contactPoint;
        env.CASSANDRA_LOCAL_DC = cassandra.localDc;
      })(),
    );
  }
  if (process.env.REDIS_URL) {
    log(`using Redis at ${process.env.REDIS_URL}`);
  } else {
    tasks.push(
      (async () => {
        await ensureRedisServer(log);
        const redis = await startRedis({ root: ROOT, name, port: redisPort ?? (await freePort()), log });
        stack.push('redis', redis.stop);
        env.REDIS_URL = redis.url;
      })(),
    );
  }
  const results = await Promise.allSettled(tasks);
  const failed = results.find((result) => result.status === 'rejected');
  if (failed) throw failed.reason;
  return env;
}
