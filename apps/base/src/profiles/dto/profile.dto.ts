import { z } from 'zod';
import { nameSchema, uuidSchema } from '../../common/schemas.js';
import type { ProfileRow } from '../../storage/rows.js';

export const MAX_USERS_PER_REQUEST = 1000;

export const createProfileSchema = z.strictObject({
  name: nameSchema,
  userIds: z
    .array(uuidSchema, { error: 'userIds must be an array of UUIDs' })
    .max(MAX_USERS_PER_REQUEST, `userIds must hold at most ${MAX_USERS_PER_REQUEST} ids`)
    .default([])
    .transform((ids) => [...new Set(ids)]),
});
export type CreateProfileBody = z.infer<typeof createProfileSchema>;

export const renameProfileSchema = z.strictObject({ name: nameSchema });
export type RenameProfileBody = z.infer<typeof renameProfileSchema>;

export interface ProfileDto {
  id: string;
  name: string;
  userIds: string[];
  createdAt: string;
}

export function toProfileDto(row: ProfileRow): ProfileDto {
  return { id: row.id, name: row.name, userIds: row.userIds, createdAt: row.createdAt.toISOString() };
}
