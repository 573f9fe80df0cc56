import cassandra from 'cassandra-driver';
import type { Cql, Statement } from '../cassandra/cql.js';
import { BINDINGS_PER_BATCH } from '../storage/bindings.repository.js';

const PAGE = 500;

/**
 * Data step from the first model (bindings in the `profiles.users` set, found through an SAI
 * index) to the second: each binding into `profile_users` and `user_profiles` (logged batches),
 * the `totals` counters recounted from the tables, and every user bound to ≥ 2 profiles ranked.
 * Idempotent: rows are rewritten as they are and the counters are emptied before they are set.
 * It reads every profile and user once — the one place that does, once, at upgrade time.
 */
export async function copySetBindings(cql: Cql, ks: string): Promise<void> {
  const bound = new Map<string, number>();
  let profiles = 0;
  await forEachRow(cql, `SELECT id, name, users FROM ${ks}.profiles`, async (rows) => {
    const statements: Statement[] = [];
    for (const row of rows) {
      profiles++;
      const profileId = row.get('id');
      for (const userId of (row.get('users') as unknown[] | null) ?? []) {
        bound.set(String(userId), (bound.get(String(userId)) ?? 0) + 1);
        statements.push(
          { query: `INSERT INTO ${ks}.profile_users (profile_id, user_id) VALUES (?, ?)`, params: [profileId, userId] },
          {
            query: `INSERT INTO ${ks}.user_profiles (user_id, profile_id, profile_name) VALUES (?, ?, ?)`,
            params: [userId, profileId, row.get('name')],
          },
        );
      }
    }
    for (let i = 0; i < statements.length; i += BINDINGS_PER_BATCH * 2) {
      await cql.batch(statements.slice(i, i + BINDINGS_PER_BATCH * 2), true);
    }
  });
  let users = 0;
  await forEachRow(cql, `SELECT id FROM ${ks}.users`, async (rows) => {
    users += rows.length;
  });
  await cql.execute(`TRUNCATE ${ks}.totals`);
  const add = `UPDATE ${ks}.totals SET n = n + ? WHERE name = ?`;
  if (users > 0) await cql.execute(add, [cassandra.types.Long.fromNumber(users), 'users']);
  if (profiles > 0) await cql.execute(add, [cassandra.types.Long.fromNumber(profiles), 'profiles']);
  for (const [userId, n] of bound) {
    await cql.execute(`UPDATE ${ks}.user_rank SET bound = ? WHERE user_id = ?`, [n, userId]);
    if (n >= 2) {
      await cql.execute(`INSERT INTO ${ks}.shared_users (bucket, bound, user_id) VALUES (0, ?, ?)`, [n, userId]);
    }
  }
}

async function forEachRow(
  cql: Cql,
  query: string,
  handle: (rows: cassandra.types.Row[]) => Promise<void>,
): Promise<void> {
  let page: string | undefined;
  do {
    const result = await cql.page(query, [], PAGE, page);
    await handle(result.rows);
    page = result.nextPage;
  } while (page);
}
