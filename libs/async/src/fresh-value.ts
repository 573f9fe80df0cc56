/**
 * A value computed at most once at a time (single flight) and reused while it is fresh: younger
 * than `freshMs` it is answered as is; up to `maxAgeMs` it is answered while one refresh runs in
 * the background; older (or never computed) the caller waits for the one computation in flight.
 * So any answer is at most `maxAgeMs` old, and N callers cost one computation.
 */
export class FreshValue<T> {
  private value: { data: T; at: number } | undefined;
  private inFlight: Promise<T> | undefined;
  private generation = 0;

  constructor(
    private readonly compute: () => Promise<T>,
    private readonly freshMs: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async get(): Promise<T> {
    const age = this.value ? this.now() - this.value.at : Number.POSITIVE_INFINITY;
    if (age < this.freshMs) return this.value!.data;
    const refresh = this.refresh();
    if (age < this.maxAgeMs) {
      refresh.catch(() => undefined); // the next caller past maxAgeMs sees the failure
      return this.value!.data;
    }
    return refresh;
  }

  /**
   * Forgets the value, so the next `get` computes afresh — also past a computation in flight,
   * whose result (possibly read before the change that called `clear`) is then not kept.
   */
  clear(): void {
    this.generation++;
    this.value = undefined;
    this.inFlight = undefined;
  }

  private refresh(): Promise<T> {
    if (this.inFlight) return this.inFlight;
    const started = this.now();
    const generation = this.generation;
    const flight = this.compute()
      .then((data) => {
        if (generation === this.generation) this.value = { data, at: started };
        return data;
      })
      .finally(() => {
        if (this.inFlight === flight) this.inFlight = undefined;
      });
    this.inFlight = flight;
    return flight;
  }
}
