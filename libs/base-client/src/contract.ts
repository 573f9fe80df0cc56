// base's wire contract: every type and schema that crosses base's HTTP boundary. base validates
// its requests and shapes its answers with these; the client and main use the same ones, so the
// two sides cannot drift apart. Imported as `@app/base-client/contract`, which loads only zod
// (no HTTP client, no Nest).
import { z } from 'zod';

export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_NAME_LENGTH = 200;
/** The most users one `POST /profiles` may bind. */
export const MAX_USERS_PER_REQUEST = 1000;

/** Display names: trimmed, 1–200 characters. */
export const nameSchema = z
  .string({ error: 'name is required and must be a string' })
  .trim()
  .min(1, 'name must not be empty')
  .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`);

/** An id in a body: any UUID, answered lower-cased. */
export const uuidSchema = z.uuid({ version: undefined, error: 'must be a UUID' }).transform((id) => id.toLowerCase());

/** `?limit=&page=` of every list endpoint; `page` is the opaque `nextPage` of the previous page. */
export const pageQuerySchema = z.object({
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(MAX_PAGE_LIMIT, `limit must be at most ${MAX_PAGE_LIMIT}`)
    .default(DEFAULT_PAGE_LIMIT),
  page: z.string().min(1).max(4096).optional(),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

/** `POST /users`, `PUT /users/:id`. */
export const userBodySchema = z.strictObject({ name: nameSchema });
export type UserBody = z.infer<typeof userBodySchema>;

/** `POST /profiles`: duplicate user ids count once. */
export const createProfileSchema = z.strictObject({
  name: nameSchema,
  userIds: z
    .array(uuidSchema, { error: 'userIds must be an array of UUIDs' })
    .max(MAX_USERS_PER_REQUEST, `userIds must hold at most ${MAX_USERS_PER_REQUEST} ids`)
    .default([])
    .transform((ids) => [...new Set(ids)]),
});
export type CreateProfileBody = z.infer<typeof createProfileSchema>;

/** `PUT /profiles/:id`. */
export const renameProfileSchema = z.strictObject({ name: nameSchema });
export type RenameProfileBody = z.infer<typeof renameProfileSchema>;

export interface UserDto {
  id: string;
  name: string;
  /** ISO 8601. */
  createdAt: string;
}

export interface ProfileDto {
  id: string;
  name: string;
  /** The bound users. */
  userIds: string[];
  /** ISO 8601. */
  createdAt: string;
}

/** A list answer that is not paged (`GET /users/:id/profiles`). */
export interface Items<T> {
  items: T[];
}

/** One page of a list; `nextPage` is absent on the last page. */
export interface Paged<T> extends Items<T> {
  nextPage?: string;
}
