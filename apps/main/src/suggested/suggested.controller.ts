import { Controller, Get, UseGuards } from '@nestjs/common';
import { Access, AuthGuard } from '@app/auth';
import type { SuggestedDto } from '@app/base-client';
import { SuggestedService } from './suggested.service.js';

@Controller('suggested')
export class SuggestedController {
  constructor(private readonly suggestions: SuggestedService) {}

  /** Shared users and all their profiles: for the admin token (or development). */
  @Get()
  @UseGuards(AuthGuard)
  @Access({ kind: 'directory' })
  suggested(): Promise<SuggestedDto> {
    return this.suggestions.suggested();
  }
}
