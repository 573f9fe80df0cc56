import { SeededNames } from './seeded-names.js';

/** One `POST /profiles/batch` of a plan: profile names and, for each, the names of its own users. */
export interface PlannedBatch {
  /** Index of the batch's first profile. */
  firstProfile: number;
  profiles: { name: string; userNames: string[] }[];
}

/** Bindings per batch a plan aims at (own users plus shared users of its profiles). */
export const BINDINGS_PER_BATCH = 4000;

/**
 * The test data a request asks for, drawn lazily batch by batch so memory stays bounded by one
 * batch whatever the size, in a fixed order (shared users, then each profile's name and its own
 * users) so the same seed gives the same names.
 */
export class TestdataPlan {
  private readonly names: SeededNames;
  readonly profilesPerBatch: number;

  constructor(
    readonly seed: number,
    readonly profiles: number,
    readonly usersPerProfile: number,
    readonly sharedUsers: number,
  ) {
    this.names = new SeededNames(seed);
    this.profilesPerBatch = Math.max(
      1,
      Math.min(1000, Math.floor(BINDINGS_PER_BATCH / Math.max(1, usersPerProfile + sharedUsers))),
    );
  }

  get totalUsers(): number {
    return this.profiles * this.usersPerProfile + this.sharedUsers;
  }

  /** The shared users' names; draw these first. */
  sharedNames(): string[] {
    return Array.from({ length: this.sharedUsers }, (_, i) => this.names.user(i));
  }

  /** The profiles' batches, in order; each drawn when the caller takes it. */
  *batches(): Generator<PlannedBatch> {
    for (let first = 0; first < this.profiles; first += this.profilesPerBatch) {
      const count = Math.min(this.profilesPerBatch, this.profiles - first);
      const profiles = Array.from({ length: count }, (_, i) => {
        const p = first + i;
        return {
          name: this.names.profile(p),
          userNames: Array.from({ length: this.usersPerProfile }, (_, u) =>
            this.names.user(this.sharedUsers + p * this.usersPerProfile + u),
          ),
        };
      });
      yield { firstProfile: first, profiles };
    }
  }
}
