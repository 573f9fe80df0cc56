// base's wire contract: every type and schema that crosses base's HTTP boundary. base validates
// its requests and shapes its answers with these; the client and main use the same ones, so the
// two sides cannot drift apart. Imported as `@app/base-client/contract`, which loads only zod
// (no HTTP client, no Nest).
import { z } from 'zod';
import { displayNameProblem } from './display-name.js';

export const MAX_PAGE_LIMIT = 1000;
export const DEFAULT_PAGE_LIMIT = 100;
export const MAX_NAME_LENGTH = 200;
/** The most users one `POST /profiles` may bind. */
export const MAX_USERS_PER_REQUEST = 1000;
/** A profile in an answer carries at most this many of its user ids (`moreUsers` says there are more). */
export const PROFILE_USERS_PREVIEW = 100;
/** Paging of a user's profiles or a profile's users: up to 10,000 a page (a login reads one). */
export const MAX_BINDING_PAGE_LIMIT = 10_000;
export const DEFAULT_BINDING_PAGE_LIMIT = 1000;
/** Bulk creation bounds: users per `POST /users/batch`, profiles / new users / bindings per `POST /profiles/batch`. */
export const MAX_BATCH_USERS = 10_000;
export const MAX_BATCH_PROFILES = 1000;
export const MAX_BATCH_BINDINGS = 20_000;

/**
 * Display names: trimmed, 1–200 characters, plain visible text (`displayNameProblem`); a refused
 * name is answered 400 `INVALID_NAME` (the issue's `params.code`).
 */
export const nameSchema = z
  .string({ error: 'name is required and must be a string' })
  .trim()
  .min(1, 'name must not be empty')
  .max(MAX_NAME_LENGTH, `name must be at most ${MAX_NAME_LENGTH} characters`)
  .superRefine((name, context) => {
    const problem = displayNameProblem(name);
    if (problem) context.addIssue({ code: 'custom', message: problem, params: { code: 'INVALID_NAME' } });
  });

/** An id in a body: any UUID, answered lower-cased. */
export const uuidSchema = z.uuid({ version: undefined, error: 'must be a UUID' }).transform((id) => id.toLowerCase());

/** `?limit=&page=`: `limit` 1–`max`, `page` the opaque `nextPage` of the previous page. */
const pageQuery = (max: number, byDefault: number) =>
  z.object({
    limit: z.coerce
      .number({ error: 'limit must be a number' })
      .int('limit must be a whole number')
      .min(1, 'limit must be at least 1')
      .max(max, `limit must be at most ${max}`)
      .default(byDefault),
    page: z.string().min(1).max(4096).optional(),
  });

/** Every list endpoint's paging. */
export const pageQuerySchema = pageQuery(MAX_PAGE_LIMIT, DEFAULT_PAGE_LIMIT);
export type PageQuery = z.infer<typeof pageQuerySchema>;

/** `GET /users/:id/profiles`, `GET /profiles/:id/users`: bindings, up to 10,000 a page. */
export const bindingPageQuerySchema = pageQuery(MAX_BINDING_PAGE_LIMIT, DEFAULT_BINDING_PAGE_LIMIT);

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

const uuidListSchema = (max: number, what: string) =>
  z
    .array(uuidSchema, { error: `${what} must be an array of UUIDs` })
    .max(max, `${what} must hold at most ${max} ids`)
    .default([])
    .transform((ids) => [...new Set(ids)]);

/** `POST /users/batch`: many users at once. */
export const createUsersSchema = z.strictObject({
  names: z
    .array(nameSchema, { error: 'names must be an array of names' })
    .min(1, 'names must hold at least one name')
    .max(MAX_BATCH_USERS, `names must hold at most ${MAX_BATCH_USERS} names`),
});
export type CreateUsersBody = z.infer<typeof createUsersSchema>;

/**
 * `POST /profiles/batch`: many profiles at once, each with users created for it (`newUsers`, their
 * names) and existing users bound to it (`userIds`). `rank: false` leaves re-ranking the existing
 * users to a later `POST /users/rank` (a bulk job does it once, not per batch).
 */
export const createProfilesSchema = z
  .strictObject({
    profiles: z
      .array(
        z.strictObject({
          name: nameSchema,
          newUsers: z.array(nameSchema, { error: 'newUsers must be an array of names' }).default([]),
          userIds: uuidListSchema(MAX_BATCH_BINDINGS, 'userIds'),
        }),
        { error: 'profiles must be an array' },
      )
      .min(1, 'profiles must hold at least one profile')
      .max(MAX_BATCH_PROFILES, `profiles must hold at most ${MAX_BATCH_PROFILES} profiles`),
    rank: z.boolean().default(true),
  })
  .refine((b) => b.profiles.reduce((n, p) => n + p.newUsers.length, 0) <= MAX_BATCH_USERS, {
    path: ['profiles'],
    message: `the profiles' newUsers must hold at most ${MAX_BATCH_USERS} names in all`,
  })
  .refine((b) => b.profiles.reduce((n, p) => n + p.newUsers.length + p.userIds.length, 0) <= MAX_BATCH_BINDINGS, {
    path: ['profiles'],
    message: `a batch may bind at most ${MAX_BATCH_BINDINGS} users in all`,
  });
export type CreateProfilesBody = z.infer<typeof createProfilesSchema>;

/** `POST /users/rank`: re-rank these users in the suggestions. */
export const rankUsersSchema = z.strictObject({
  userIds: uuidListSchema(MAX_PAGE_LIMIT, 'userIds').refine((ids) => ids.length > 0, 'userIds must not be empty'),
});
export type RankUsersBody = z.infer<typeof rankUsersSchema>;

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
  /** The bound users, in id order: the first 100 (`PROFILE_USERS_PREVIEW`); all of them through `GET /profiles/:id/users`. */
  userIds: string[];
  /** Present (true) when the profile has more users than `userIds` holds. */
  moreUsers?: true;
  /** ISO 8601. */
  createdAt: string;
}

/** A profile in a user's list of profiles. */
export interface ProfileRefDto {
  id: string;
  name: string;
}

/** A profile made by `POST /profiles/batch`, with the ids of the users made for it (in `newUsers` order). */
export interface CreatedProfileDto {
  id: string;
  name: string;
  newUserIds: string[];
}

/** A user bound to ≥ 2 profiles: its first 10 profile ids (id order) and how many it has. */
export interface SuggestedUserDto {
  id: string;
  name: string;
  profileIds: string[];
  profileCount: number;
}

/** `GET /suggested`: at most 50 users, and when the answer was computed (ISO 8601). */
export interface SuggestedDto {
  items: SuggestedUserDto[];
  computedAt: string;
}

/** `GET /counts`: how many users and profiles exist (maintained counters), and a few bound pairs. */
export interface CountsDto {
  users: number;
  profiles: number;
  /** Up to 5 pairs: the first user of each of the first profiles that have one. */
  examples: { userId: string; profileId: string }[];
}

/** A list answer that is not paged (`GET /users/:id/profiles`). */
export interface Items<T> {
  items: T[];
}

/** One page of a list; `nextPage` is absent on the last page. */
export interface Paged<T> extends Items<T> {
  nextPage?: string;
}
