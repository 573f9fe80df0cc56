import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageThrough } from './base-client.js';
import type { Paged } from './contract.js';

/** A paged list served from memory, recording the page token of every request. */
function pagedList(pages: string[][]) {
  const requests: (string | undefined)[] = [];
  const fetchPage = async (page?: string): Promise<Paged<string>> => {
    requests.push(page);
    const index = page === undefined ? 0 : Number(page.slice('token-'.length));
    if (Number.isNaN(index) || index >= pages.length) throw new Error(`unknown page ${page}`);
    return index + 1 < pages.length ? { items: pages[index], nextPage: `token-${index + 1}` } : { items: pages[index] };
  };
  return { requests, fetchPage };
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const item of items) all.push(item);
  return all;
}

describe(pageThrough.name, () => {
  it('yields every item of every page in order, passing on each nextPage token', async () => {
    const list = pagedList([['a', 'b'], ['c'], ['d', 'e']]);
    const sut = pageThrough(list.fetchPage);
    assert.deepEqual(await collect(sut), ['a', 'b', 'c', 'd', 'e']);
    assert.deepEqual(list.requests, [undefined, 'token-1', 'token-2']);
  });

  it('asks for one page when the list fits in it, and yields nothing for an empty list', async () => {
    const empty = pagedList([[]]);
    assert.deepEqual(await collect(pageThrough(empty.fetchPage)), []);
    assert.deepEqual(empty.requests, [undefined]);
  });

  it('fetches the next page only when the caller has taken the previous one', async () => {
    const list = pagedList([['a', 'b'], ['c']]);
    const sut = pageThrough(list.fetchPage);
    assert.equal(list.requests.length, 0);
    for await (const item of sut) if (item === 'b') break;
    assert.deepEqual(list.requests, [undefined]);
  });

  it('rejects with the failure of a page after yielding the pages before it', async () => {
    const seen: string[] = [];
    const sut = pageThrough(async (page?: string): Promise<Paged<string>> => {
      if (page === undefined) return { items: ['a'], nextPage: 'next' };
      throw new Error('base is unavailable');
    });
    await assert.rejects(async () => {
      for await (const item of sut) seen.push(item);
    }, /base is unavailable/);
    assert.deepEqual(seen, ['a']);
  });
});
