import { z } from 'zod';

export const MAX_PROFILES = 1000;
export const MAX_USERS_PER_PROFILE = 1000;
export const MAX_SHARED_USERS = 100;
export const MAX_TOTAL_USERS = 100_000;

export const createTestdataSchema = z
  .strictObject({
    profiles: z.number().int().min(1).max(MAX_PROFILES).default(20),
    usersPerProfile: z.number().int().min(0).max(MAX_USERS_PER_PROFILE).default(10),
    sharedUsers: z.number().int().min(0).max(MAX_SHARED_USERS).default(3),
    seed: z.number().int().min(0).max(0xffffffff).optional(),
  })
  .refine((b) => b.usersPerProfile + b.sharedUsers <= MAX_USERS_PER_PROFILE, {
    path: ['usersPerProfile'],
    message: `usersPerProfile + sharedUsers must be at most ${MAX_USERS_PER_PROFILE} (users of one profile)`,
  })
  .refine((b) => b.profiles * b.usersPerProfile + b.sharedUsers <= MAX_TOTAL_USERS, {
    path: ['profiles'],
    message: `profiles × usersPerProfile + sharedUsers must be at most ${MAX_TOTAL_USERS}`,
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
  sharedUserIds: string[];
  durationMs: number;
  examples: ExampleLink[];
}

export interface TestdataCounts {
  users: number;
  profiles: number;
  examples: ExampleLink[];
}

export function exampleLink(userId: string, profileId: string): ExampleLink {
  return { userId, profileId, link: `/index/${userId}/${profileId}` };
}
