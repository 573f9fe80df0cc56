/** Percentile (nearest rank) of a list of milliseconds. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  errors: number;
}

/**
 * Runs `call` `requests` times with `concurrency` in flight (closed loop) and reports latency
 * percentiles in milliseconds. A call that throws or resolves false counts as an error.
 */
export async function measure(
  requests: number,
  concurrency: number,
  call: (index: number) => Promise<boolean>,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) {
        const index = next++;
        const t0 = performance.now();
        const ok = await call(index).catch(() => false);
        latencies.push(performance.now() - t0);
        if (!ok) errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    requests,
    seconds,
    perSecond: requests / seconds,
    p50: percentile(latencies, 50),
    p90: percentile(latencies, 90),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    errors,
  };
}

export function formatLoad(label: string, r: LoadResult): string {
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  return `${label}: ${r.requests} requests in ${r.seconds.toFixed(1)} s (${r.perSecond.toFixed(0)}/s), p50 ${ms(r.p50)}, p90 ${ms(r.p90)}, p99 ${ms(r.p99)}, max ${ms(r.max)}, errors ${r.errors}`;
}
