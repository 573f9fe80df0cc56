/** Percentiles of a latency distribution, in milliseconds. */
export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

const MIN_MS = 0.001;
/** Buckets grow by 1 %: a percentile is off by at most half of that. */
const GROWTH = 1.01;
const LOG_GROWTH = Math.log(GROWTH);
/** 1 µs … ≈ 1,000 s. */
const BUCKETS = Math.ceil(Math.log(1e6 / MIN_MS) / LOG_GROWTH) + 2;

/**
 * A fixed-size log-bucketed histogram of milliseconds (1 % resolution, 1 µs to ≈ 17 min): constant
 * memory however many samples, so millions of delivery latencies cost nothing to keep.
 */
export class Histogram {
  private readonly counts = new Float64Array(BUCKETS);
  count = 0;
  sum = 0;
  max = 0;

  record(ms: number): void {
    const value = ms > 0 ? ms : 0;
    const index = value <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(value / MIN_MS) / LOG_GROWTH) + 1);
    this.counts[index]!++;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  add(other: Histogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i]! += other.counts[i]!;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  /** Nearest-rank percentile (the bucket's geometric middle, capped at the true maximum); NaN when empty. */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil((p / 100) * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) {
        if (i === 0) return Math.min(MIN_MS, this.max);
        const middle = MIN_MS * GROWTH ** (i - 0.5);
        return Math.min(middle, this.max);
      }
    }
    return this.max;
  }

  summary(): Percentiles {
    return {
      count: this.count,
      p50: round(this.percentile(50)),
      p90: round(this.percentile(90)),
      p99: round(this.percentile(99)),
      max: round(this.count ? this.max : Number.NaN),
      mean: round(this.count ? this.sum / this.count : Number.NaN),
    };
  }
}

/** Three significant decimals; NaN stays NaN (JSON writes it as null). */
export function round(value: number): number {
  return Number.isFinite(value) ? Math.round(value * 1000) / 1000 : Number.NaN;
}
