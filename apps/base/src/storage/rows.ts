import type { Paged } from '@app/base-client/contract';
import type { Row } from '../cassandra/cql.js';

export interface UserRow {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ProfileRow {
  id: string;
  name: string;
  createdAt: Date;
}

/** One user ↔ profile binding, with the profile's name as `user_profiles` keeps it. */
export interface BindingRow {
  profileId: string;
  profileName: string;
  userId: string;
}

/** A profile as a user's list of profiles holds it. */
export interface ProfileRef {
  id: string;
  name: string;
}

/** A row of the ranking of shared users. */
export interface RankRow {
  userId: string;
  bound: number;
}

export interface RowPage<T> {
  items: T[];
  nextPage: string | undefined;
}

/** A page of rows as the API answers it, each row mapped by `toDto`; `nextPage` only where there is one. */
export function toPaged<T, D>({ items, nextPage }: RowPage<T>, toDto: (row: T) => D): Paged<D> {
  const dtos = items.map(toDto);
  return nextPage ? { items: dtos, nextPage } : { items: dtos };
}

export function toUserRow(row: Row): UserRow {
  return { id: String(row.get('id')), name: row.get('name') as string, createdAt: row.get('created_at') as Date };
}

export function toProfileRow(row: Row): ProfileRow {
  return { id: String(row.get('id')), name: row.get('name') as string, createdAt: row.get('created_at') as Date };
}

/** Result of a conditional (`IF EXISTS`) write. */
export function wasApplied(result: { rows: Row[] }): boolean {
  return result.rows[0]?.get('[applied]') === true;
}
