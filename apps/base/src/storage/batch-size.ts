import type { BindingRow, UserRow } from './rows.js';

/**
 * What a logged batch may hold, by Cassandra's own measure of a batch (the data size of its rows):
 * it warns past `batch_size_warn_threshold` (5 KiB by default) and refuses past
 * `batch_size_fail_threshold` (50 KiB). Our batches stay under two thirds of the refusal limit whatever the
 * names (200 characters of up to 4 bytes each).
 */
export const MAX_BATCH_BYTES = 32 * 1024;

const UUID_BYTES = 16;
const TIMESTAMP_BYTES = 8;
/** Per row: clustering and cell headers, timestamps (measured: ≈ 137 bytes a binding with 15-byte names). */
const ROW_OVERHEAD_BYTES = 40;

/** Both rows of a binding: the ids in each table, and the profile's name in `user_profiles`. */
export function bindingBytes(binding: BindingRow): number {
  return 2 * (2 * UUID_BYTES + ROW_OVERHEAD_BYTES) + Buffer.byteLength(binding.profileName);
}

/** A `users` row. */
export function userBytes(user: UserRow): number {
  return UUID_BYTES + TIMESTAMP_BYTES + ROW_OVERHEAD_BYTES + Buffer.byteLength(user.name);
}

/** Consecutive runs of `items`, each of at most `maxCount` items and at most `maxBytes` by `bytes` (an item larger alone still gets a run). */
export function chunkBySize<T>(
  items: readonly T[],
  maxCount: number,
  maxBytes: number,
  bytes: (item: T) => number,
): T[][] {
  const chunks: T[][] = [];
  let chunk: T[] = [];
  let size = 0;
  for (const item of items) {
    const itemBytes = bytes(item);
    if (chunk.length > 0 && (chunk.length >= maxCount || size + itemBytes > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      size = 0;
    }
    chunk.push(item);
    size += itemBytes;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
