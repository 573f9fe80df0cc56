import { randomBytes } from 'node:crypto';

/**
 * Pre-generated payloads, so the data path does no per-client crypto and no per-event allocation
 * of the payload itself. Payloads are base64url text: safe inside a JSON string as they are.
 */
export class PayloadPool {
  private readonly payloads: Buffer[];
  private cursor = 0;

  constructor(
    readonly bytes: number,
    count = 16,
  ) {
    this.payloads = Array.from({ length: count }, () =>
      Buffer.from(
        randomBytes(Math.ceil((bytes * 3) / 4) + 3)
          .toString('base64url')
          .slice(0, bytes),
        'latin1',
      ),
    );
  }

  next(): Buffer {
    const payload = this.payloads[this.cursor]!;
    this.cursor = (this.cursor + 1) % this.payloads.length;
    return payload;
  }
}
