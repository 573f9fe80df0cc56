import { Body, Controller, Delete, Get, HttpCode, Post, Res, UseGuards } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { Access, AuthGuard } from '@app/auth';
import { AdminGuard } from '@app/http';
import {
  type CreateTestdata,
  createTestdataSchema,
  type TestdataCounts,
  type TestdataJob,
  type TestdataSummary,
} from './testdata.dto.js';
import { TestdataService } from './testdata.service.js';

@Controller('testdata')
export class TestdataController {
  constructor(private readonly testdata: TestdataService) {}

  /**
   * Admin. Waits for the creation and answers 201 with its summary — or, with `"wait": false`,
   * answers 202 with the job at once (`Location: /main/testdata/job` to follow it). 429 while
   * another creation or drop runs.
   */
  @Post()
  @UseGuards(AdminGuard)
  async create(
    @Body({ schema: createTestdataSchema }) body: CreateTestdata,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TestdataSummary | TestdataJob> {
    const { job, done } = await this.testdata.start(body);
    if (body.wait) return done;
    done.catch(() => undefined); // the job's state says how it ended
    void reply.status(202).header('Location', '/main/testdata/job');
    return job;
  }

  /** Counts and example pairs: for the admin token (or development). */
  @Get()
  @UseGuards(AuthGuard)
  @Access({ kind: 'directory' })
  counts(): Promise<TestdataCounts> {
    return this.testdata.counts();
  }

  /** The latest creation's progress (running, done, failed or cancelled), from any replica. */
  @Get('job')
  @UseGuards(AuthGuard)
  @Access({ kind: 'directory' })
  job(): Promise<TestdataJob> {
    return this.testdata.job();
  }

  /** Admin: stops the running creation after the batches in flight; 202 with its state. */
  @Delete('job')
  @UseGuards(AdminGuard)
  @HttpCode(202)
  cancel(): Promise<TestdataJob> {
    return this.testdata.cancel();
  }

  /** Admin: drops every user and profile; 429 while a creation runs. */
  @Delete()
  @UseGuards(AdminGuard)
  @HttpCode(204)
  async drop(): Promise<void> {
    await this.testdata.dropAll();
  }
}
