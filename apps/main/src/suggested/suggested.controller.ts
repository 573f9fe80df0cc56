import { Controller, Get, UseGuards } from '@nestjs/common';
import { Access, AuthGuard } from '@app/auth';
import { SuggestedService, type SuggestedUser } from './suggested.service.js';

@Controller('suggested')
export class SuggestedController {
  constructor(private readonly suggestions: SuggestedService) {}

  /** Shared users and all their profiles: for the admin token (or development). */
  @Get()
  @UseGuards(AuthGuard)
  @Access({ kind: 'directory' })
  suggested(): Promise<{ items: SuggestedUser[] }> {
    return this.suggestions.suggested();
  }
}
