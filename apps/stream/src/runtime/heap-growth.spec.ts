import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

/**
 * A process that keeps a live set and allocates events that live a few rounds (as streams do):
 * its peak V8 heap used, with the growth capped at `percent` (0 = V8's own choice).
 */
async function peakHeapUsed(percent: number): Promise<number> {
  const script = `
    import { capHeapGrowth } from ${JSON.stringify(new URL('./heap-growth.js', import.meta.url).href)};
    capHeapGrowth(${percent});
    const live = [];
    for (let i = 0; i < 200_000; i++) live.push({ id: 'item-' + i, values: [i, i + 1, i + 2] });
    const recent = [];
    let peak = 0;
    for (let round = 0; round < 60; round++) {
      recent.push(Array.from({ length: 20_000 }, (_, i) => ({ text: 'event-' + round + '-' + i, at: [round, i] })));
      if (recent.length > 3) recent.shift();
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    console.log(JSON.stringify({ live: live.length, peak }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script]);
  return (JSON.parse(stdout) as { peak: number }).peak;
}

describe('capHeapGrowth', () => {
  it('keeps the heap of a steadily allocating process well below what V8 lets it grow to', async () => {
    const [uncapped, capped] = await Promise.all([peakHeapUsed(0), peakHeapUsed(20)]);
    assert.ok(
      capped < uncapped * 0.7,
      `peak heap used ${(capped / 2 ** 20).toFixed(0)} MiB capped at 20 % against ${(uncapped / 2 ** 20).toFixed(0)} MiB`,
    );
  });
});
