import { Controller, Get } from '@nestjs/common';
import { SuggestedService, type SuggestedUser } from './suggested.service.js';

@Controller('suggested')
export class SuggestedController {
  constructor(private readonly suggestions: SuggestedService) {}

  @Get()
  suggested(): Promise<{ items: SuggestedUser[] }> {
    return this.suggestions.suggested();
  }
}
