/**
 * What a stream page measures, kept per whole second for the last `seconds` seconds: bytes,
 * events received and events dropped (seq gaps). Pure: no DOM, times passed in (epoch ms).
 */
export class RateWindow {
  #seconds;
  /** second (epoch s) → {bytes, received, dropped} */
  #buckets = new Map();

  constructor(seconds = 60) {
    this.#seconds = seconds;
  }

  get seconds() {
    return this.#seconds;
  }

  /** Adds counts to the second `atMs` falls in. */
  add(atMs, { bytes = 0, received = 0, dropped = 0 }) {
    const second = Math.floor(atMs / 1000);
    const bucket = this.#buckets.get(second) ?? { bytes: 0, received: 0, dropped: 0 };
    bucket.bytes += bytes;
    bucket.received += received;
    bucket.dropped += dropped;
    this.#buckets.set(second, bucket);
    for (const old of this.#buckets.keys()) if (old <= second - this.#seconds - 1) this.#buckets.delete(old);
  }

  /**
   * The last `seconds` complete seconds before `nowMs`, oldest first, each
   * `{second, kbps, received, dropped}` (zeros where nothing arrived).
   */
  series(nowMs) {
    const current = Math.floor(nowMs / 1000);
    const points = [];
    for (let second = current - this.#seconds; second < current; second++) {
      const bucket = this.#buckets.get(second) ?? { bytes: 0, received: 0, dropped: 0 };
      points.push({ second, kbps: (bucket.bytes * 8) / 1000, received: bucket.received, dropped: bucket.dropped });
    }
    return points;
  }
}

/** Age of an event on arrival (ms): arrival time − the event's own `timestamp`, never negative. */
export function eventAge(arrivedAtMs, timestampMs) {
  return Math.max(0, arrivedAtMs - timestampMs);
}
