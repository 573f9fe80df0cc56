import { Body, Controller, Delete, Get, HttpCode, Post, UseGuards } from '@nestjs/common';
import { Access, AuthGuard } from '@app/auth';
import { AdminGuard } from '@app/http';
import {
  type CreateTestdata,
  createTestdataSchema,
  type TestdataCounts,
  type TestdataSummary,
} from './testdata.dto.js';
import { TestdataService } from './testdata.service.js';

@Controller('testdata')
export class TestdataController {
  constructor(private readonly testdata: TestdataService) {}

  @Post()
  @UseGuards(AdminGuard)
  create(@Body({ schema: createTestdataSchema }) body: CreateTestdata): Promise<TestdataSummary> {
    return this.testdata.create(body);
  }

  /** Counts and example pairs: for the admin token (or development). */
  @Get()
  @UseGuards(AuthGuard)
  @Access({ kind: 'directory' })
  counts(): Promise<TestdataCounts> {
    return this.testdata.counts();
  }

  @Delete()
  @UseGuards(AdminGuard)
  @HttpCode(204)
  async drop(): Promise<void> {
    await this.testdata.dropAll();
  }
}
