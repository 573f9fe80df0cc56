import type { Cql } from '../cassandra/cql.js';
import { copySetBindings } from './copy-set-bindings.js';

/**
 * One schema step. Statements are idempotent, so a re-run or two racing runs are harmless; a data
 * step (`run`, after the statements) must be idempotent too: it runs again when base stopped
 * before the step was recorded.
 */
export interface Migration {
  readonly version: number;
  readonly description: string;
  statements(keyspace: string): string[];
  run?(cql: Cql, keyspace: string): Promise<void>;
}

/** The tables of the current model (what versions 1–5 leave), for a keyspace that has no data yet. */
const CURRENT_TABLES = (ks: string) => [
  `CREATE TABLE IF NOT EXISTS ${ks}.users (id uuid PRIMARY KEY, name text, created_at timestamp)`,
  `CREATE TABLE IF NOT EXISTS ${ks}.profiles (id uuid PRIMARY KEY, name text, created_at timestamp)`,
  ...BINDING_TABLES(ks),
];

const BINDING_TABLES = (ks: string) => [
  // Users of a profile: the binding check (one row) and the profile's users, paged.
  `CREATE TABLE IF NOT EXISTS ${ks}.profile_users (profile_id uuid, user_id uuid, PRIMARY KEY (profile_id, user_id))`,
  // Profiles of a user, with the profile's name copied in: login, "me", a user's deletion.
  `CREATE TABLE IF NOT EXISTS ${ks}.user_profiles (user_id uuid, profile_id uuid, profile_name text, ` +
    `PRIMARY KEY (user_id, profile_id))`,
  // How many users and profiles exist.
  `CREATE TABLE IF NOT EXISTS ${ks}.totals (name text PRIMARY KEY, n counter)`,
  // A user's binding count as last ranked (the write time orders concurrent re-rankings).
  `CREATE TABLE IF NOT EXISTS ${ks}.user_rank (user_id uuid PRIMARY KEY, bound int)`,
  // Users bound to ≥ 2 profiles, most-bound first. Rows that lost a race are filtered against
  // user_rank on read, so a resurrected tombstone is harmless: a short gc_grace_seconds keeps
  // the partition's tombstones few.
  `CREATE TABLE IF NOT EXISTS ${ks}.shared_users (bucket int, bound int, user_id uuid, ` +
    `PRIMARY KEY (bucket, bound, user_id)) WITH CLUSTERING ORDER BY (bound DESC, user_id ASC) ` +
    `AND gc_grace_seconds = 3600`,
];

/**
 * A keyspace with no migration recorded gets the current tables at once (fewer schema changes,
 * each of which costs Cassandra a second or more) and every version recorded as applied.
 */
export const FRESH_SCHEMA = CURRENT_TABLES;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'users and profiles tables',
    statements: (ks) => [
      `CREATE TABLE IF NOT EXISTS ${ks}.users (id uuid PRIMARY KEY, name text, created_at timestamp)`,
      `CREATE TABLE IF NOT EXISTS ${ks}.profiles (id uuid PRIMARY KEY, name text, users set<uuid>, created_at timestamp)`,
    ],
  },
  {
    version: 2,
    description: 'SAI index for profiles of a user (users CONTAINS ?)',
    statements: (ks) => [`CREATE INDEX IF NOT EXISTS profiles_users_idx ON ${ks}.profiles (users) USING 'sai'`],
  },
  {
    version: 3,
    description: 'bindings as rows (profile_users, user_profiles), counters, the ranking of shared users',
    statements: BINDING_TABLES,
  },
  {
    version: 4,
    description: 'copy the bindings of profiles.users into the new tables, count users and profiles, rank shared users',
    statements: () => [],
    run: copySetBindings,
  },
  {
    version: 5,
    description: 'drop the SAI index and the profiles.users set (bindings live in their own tables)',
    statements: (ks) => [
      `DROP INDEX IF EXISTS ${ks}.profiles_users_idx`,
      `ALTER TABLE ${ks}.profiles DROP IF EXISTS users`,
    ],
  },
];
