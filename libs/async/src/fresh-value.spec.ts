import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FreshValue } from './fresh-value.js';

function counter() {
  let now = 0;
  let calls = 0;
  let fail = false;
  const sut = new FreshValue(
    async () => {
      calls++;
      await new Promise((done) => setImmediate(done));
      if (fail) throw new Error('down');
      return calls;
    },
    1000,
    2000,
    () => now,
  );
  return {
    sut,
    calls: () => calls,
    at: (ms: number) => (now = ms),
    failing: (on: boolean) => (fail = on),
  };
}

describe(FreshValue.name, () => {
  it('computes once for concurrent callers', async () => {
    const c = counter();
    const answers = await Promise.all([c.sut.get(), c.sut.get(), c.sut.get()]);
    assert.deepEqual(answers, [1, 1, 1]);
    assert.equal(c.calls(), 1);
  });

  it('answers a fresh value without computing', async () => {
    const c = counter();
    await c.sut.get();
    c.at(999);
    assert.equal(await c.sut.get(), 1);
    assert.equal(c.calls(), 1);
  });

  it('answers a value between fresh and max age at once and refreshes it in the background', async () => {
    const c = counter();
    await c.sut.get();
    c.at(1500);
    assert.equal(await c.sut.get(), 1);
    await new Promise((done) => setImmediate(done));
    await new Promise((done) => setImmediate(done));
    assert.equal(c.calls(), 2);
    assert.equal(await c.sut.get(), 2);
  });

  it('waits for a new value past max age, and fails with the computation', async () => {
    const c = counter();
    await c.sut.get();
    c.at(2000);
    assert.equal(await c.sut.get(), 2);
    c.at(5000);
    c.failing(true);
    await assert.rejects(c.sut.get(), /down/);
  });

  it('computes afresh after clear', async () => {
    const c = counter();
    await c.sut.get();
    c.sut.clear();
    assert.equal(await c.sut.get(), 2);
  });

  it('computes afresh after clear, and keeps no value computed before it', async () => {
    const releases: (() => void)[] = [];
    let value = 'old';
    const sut = new FreshValue(
      async () => {
        const read = value;
        await new Promise<void>((done) => releases.push(done));
        return read;
      },
      1000,
      2000,
      () => 0,
    );
    const before = sut.get();
    value = 'new';
    sut.clear();
    const after = sut.get();
    assert.equal(releases.length, 2, 'clear does not wait for the computation in flight');
    releases[0]!(); // the computation begun before clear ends first
    assert.equal(await before, 'old');
    releases[1]!();
    assert.equal(await after, 'new');
    assert.equal(await sut.get(), 'new', 'the value read before clear was not kept');
  });
});
