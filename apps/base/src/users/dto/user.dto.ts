import { z } from 'zod';
import { nameSchema } from '../../common/schemas.js';
import type { UserRow } from '../../storage/rows.js';

export const userBodySchema = z.strictObject({ name: nameSchema });
export type UserBody = z.infer<typeof userBodySchema>;

export interface UserDto {
  id: string;
  name: string;
  createdAt: string;
}

export function toUserDto(row: UserRow): UserDto {
  return { id: row.id, name: row.name, createdAt: row.createdAt.toISOString() };
}
