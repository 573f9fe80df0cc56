/** One schema step. Statements are idempotent, so a re-run or two racing runs are harmless. */
export interface Migration {
  readonly version: number;
  readonly description: string;
  statements(keyspace: string): string[];
}

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
];
