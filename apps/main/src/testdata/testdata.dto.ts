import { z } from 'zod';

export const MAX_PROFILES = 100_000;
export const MAX_USERS_PER_PROFILE = 10_000;
export const MAX_SHARED_USERS = 1000;
/** Users of their own profile per request; the shared users (≤ 1,000) come on top. */
export const MAX_TOTAL_USERS = 1_000_000;
export const MAX_TOTAL_BINDINGS = 2_000_000;

export const createTestdataSchema = z
  .strictObject({
    profiles: z.number().int().min(1).max(MAX_PROFILES).default(20),
    usersPerProfile: z.number().int().min(0).max(MAX_USERS_PER_PROFILE).default(10),
    sharedUsers: z.number().int().min(0).max(MAX_SHARED_USERS).default(3),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
    /** false: answer 202 with the job at once instead of waiting for it (a long creation). */
    wait: z.boolean().default(true),
  })
  .refine((b) => b.usersPerProfile + b.sharedUsers <= MAX_USERS_PER_PROFILE, {
    path: ['usersPerProfile'],
    message: `usersPerProfile + sharedUsers must be at most ${MAX_USERS_PER_PROFILE} (users of one profile)`,
  })
  .refine((b) => b.profiles * b.usersPerProfile <= MAX_TOTAL_USERS, {
    path: ['profiles'],
    message: `profiles × usersPerProfile must be at most ${MAX_TOTAL_USERS.toLocaleString('en')} (plus the shared users)`,
  })
  .refine((b) => b.profiles * (b.usersPerProfile + b.sharedUsers) <= MAX_TOTAL_BINDINGS, {
    path: ['profiles'],
    message: `profiles × (usersPerProfile + sharedUsers) must be at most ${MAX_TOTAL_BINDINGS.toLocaleString('en')} bindings`,
  });
export type CreateTestdata = z.infer<typeof createTestdataSchema>;

export interface ExampleLink {
  userId: string;
  profileId: string;
  link: string;
}

export interface TestdataSummary {
  seed: number;
  profiles: number;
  users: number;
  /** The shared users (at most the first 100 of them). */
  sharedUserIds: string[];
  durationMs: number;
  examples: ExampleLink[];
}

export interface TestdataCounts {
  users: number;
  profiles: number;
  examples: ExampleLink[];
  /** The latest creation, when one ran recently (what `GET /main/testdata/job` answers). */
  job?: TestdataJob;
}

export type JobState = 'running' | 'done' | 'failed' | 'cancelled';

/** A test-data creation as `GET /main/testdata/job` shows it (from Redis, so any replica answers). */
export interface TestdataJob {
  id: string;
  state: JobState;
  pod: string;
  request: Omit<CreateTestdata, 'wait'> & { seed: number };
  /** What the request will make in all. */
  planned: { users: number; profiles: number };
  /** What is written so far (whole batches that succeeded). */
  created: { users: number; profiles: number };
  startedAt: string;
  updatedAt: string;
  /** Users per second so far. */
  usersPerSecond: number;
  finishedAt?: string;
  /** Why it failed, and what may exist beyond `created`. */
  error?: string;
  summary?: TestdataSummary;
}

export function exampleLink(userId: string, profileId: string): ExampleLink {
  return { userId, profileId, link: `/index/${userId}/${profileId}` };
}
