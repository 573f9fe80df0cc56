import { Injectable } from '@nestjs/common';

/** Process-wide readiness switch: once draining, `/health/ready` answers 503 for good. */
@Injectable()
export class Readiness {
  private drainingSince: number | undefined;

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  markDraining(): void {
    this.drainingSince ??= Date.now();
  }
}
