import { Injectable } from '@nestjs/common';
import { randomInt } from 'node:crypto';
import { BaseClient } from '@app/base-client';
import { AppError } from '@app/errors';
import { mapWithConcurrency } from '@app/http';
import { SeededNames } from './seeded-names.js';
import {
  type CreateTestdata,
  type ExampleLink,
  exampleLink,
  type TestdataCounts,
  type TestdataSummary,
} from './testdata.dto.js';

/** Profiles built at once, and users created at once for each of them (≤ 32 calls to base in flight). */
const PROFILE_CONCURRENCY = 4;
const USER_CONCURRENCY = 8;
const EXAMPLES = 5;

@Injectable()
export class TestdataService {
  constructor(private readonly base: BaseClient) {}

  /**
   * Every profile gets its own users plus all shared users, so the shared users are the
   * "suggested" ones. A failure midway stops new work and is reported with what was created.
   */
  async create(request: CreateTestdata): Promise<TestdataSummary> {
    const started = Date.now();
    const seed = request.seed ?? randomInt(0, 0xffffffff);
    // Names are drawn in a fixed order before anything runs concurrently, so a seed fixes them.
    const names = new SeededNames(seed);
    const sharedNames = Array.from({ length: request.sharedUsers }, (_, i) => names.user(i));
    const plan = Array.from({ length: request.profiles }, (_, p) => ({
      name: names.profile(p),
      userNames: Array.from({ length: request.usersPerProfile }, (_, u) =>
        names.user(request.sharedUsers + p * request.usersPerProfile + u),
      ),
    }));

    const created = { users: 0, profiles: 0 };
    const createUser = async (name: string) => {
      const user = await this.base.createUser(name);
      created.users++;
      return user.id;
    };
    const examples: ExampleLink[] = [];
    try {
      const sharedUserIds = await mapWithConcurrency(sharedNames, USER_CONCURRENCY, createUser);
      await mapWithConcurrency(plan, PROFILE_CONCURRENCY, async (profile, index) => {
        const own = await mapWithConcurrency(profile.userNames, USER_CONCURRENCY, createUser);
        const saved = await this.base.createProfile(profile.name, [...own, ...sharedUserIds]);
        created.profiles++;
        const firstUser = own[0] ?? sharedUserIds[0];
        if (index < EXAMPLES && firstUser) examples[index] = exampleLink(firstUser, saved.id);
      });
      return {
        seed,
        profiles: created.profiles,
        users: created.users,
        sharedUserIds,
        durationMs: Date.now() - started,
        examples: examples.filter(Boolean),
      };
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw AppError.of('DEPENDENCY_UNAVAILABLE', { created, seed, reason }, { cause: error });
    }
  }

  /** How much data there is, with a few ready-made stream page links. */
  async counts(): Promise<TestdataCounts> {
    let users = 0;
    for await (const _user of this.base.allUsers()) users++;
    let profiles = 0;
    const examples: ExampleLink[] = [];
    for await (const profile of this.base.allProfiles()) {
      profiles++;
      if (examples.length < EXAMPLES && profile.userIds[0]) examples.push(exampleLink(profile.userIds[0], profile.id));
    }
    return { users, profiles, examples };
  }

  /** Drops every profile and every user. Live streams keep their locks until they end. */
  async dropAll(): Promise<void> {
    await this.base.deleteAllProfiles();
    await this.base.deleteAllUsers();
  }
}
