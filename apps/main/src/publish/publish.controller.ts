import { Body, Controller, HttpCode, Post, UseGuards } from '@nestjs/common';
import { IdParam } from '@app/http';
import { type PublishBody, publishSchema, type Published } from './publish.dto.js';
import { PublishGuard } from './publish.guard.js';
import { PublishService } from './publish.service.js';

@Controller('publish')
export class PublishController {
  constructor(private readonly publisher: PublishService) {}

  /**
   * `{event?, data}` → 202 `{id}`: the event is in the pair's history and on its way to the
   * pair's live stream, if there is one. See docs/publish.md.
   */
  @Post(':userId/:profileId')
  @HttpCode(202)
  @UseGuards(PublishGuard)
  publish(
    @IdParam('userId') userId: string,
    @IdParam('profileId') profileId: string,
    @Body({ schema: publishSchema }) body: PublishBody,
  ): Promise<Published> {
    return this.publisher.publish(userId, profileId, body);
  }
}
