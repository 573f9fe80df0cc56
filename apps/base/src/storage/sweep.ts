import type { RowPage } from './rows.js';

/** Rows read per page by the sweeps that follow a delete (bounded memory, whatever the size). */
export const SWEEP_PAGE = 1000;

/**
 * Hands `handle` every page of a partition, one page in memory at a time, until a page comes
 * without a next one. Rows removed by `handle` do not disturb the paging (it resumes after the
 * last key read).
 */
export async function forEachPage<T>(
  fetchPage: (pageToken: string | undefined) => Promise<RowPage<T>>,
  handle: (items: T[]) => Promise<void>,
): Promise<void> {
  let token: string | undefined;
  do {
    const page = await fetchPage(token);
    if (page.items.length > 0) await handle(page.items);
    token = page.nextPage;
  } while (token);
}
