import { z } from 'zod';

export const MAX_PAGE_LIMIT = 1000;

/** Display names: trimmed, 1–200 characters. */
export const nameSchema = z
  .string({ error: 'name is required and must be a string' })
  .trim()
  .min(1, 'name must not be empty')
  .max(200, 'name must be at most 200 characters');

export const uuidSchema = z.uuid({ version: undefined, error: 'must be a UUID' }).transform((id) => id.toLowerCase());

/** `?limit=&page=` of every list endpoint. */
export const pageQuerySchema = z.object({
  limit: z.coerce
    .number({ error: 'limit must be a number' })
    .int('limit must be a whole number')
    .min(1, 'limit must be at least 1')
    .max(MAX_PAGE_LIMIT, `limit must be at most ${MAX_PAGE_LIMIT}`)
    .default(100),
  page: z.string().min(1).max(4096).optional(),
});
export type PageQuery = z.infer<typeof pageQuerySchema>;

export interface Paged<T> {
  items: T[];
  nextPage?: string;
}
