import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { releaseFrameworkListeners } from './release-framework.js';
import { StreamsService } from './streams.service.js';

@Controller('stream')
export class StreamsController {
  constructor(private readonly streams: StreamsService) {}

  /**
   * `text/event-stream` for one (user, profile) pair. Refusals come before any byte: as JSON with
   * their status (400, 401, 403, 404, 409, 429, 503 + Retry-After), or — to a standard
   * EventSource, for those retrying can fix — as a short `refused` stream with `retry:`. HEAD
   * answers the headers only and never takes the lock.
   */
  @Get(':userId/:profileId')
  async stream(
    @Param('userId') userId: string,
    @Param('profileId') profileId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.streams.serve(userId, profileId, request.raw, reply.raw);
    // The socket belongs to the session now (or was answered, or released because the client left).
    reply.hijack();
    // A live stream keeps no Fastify or Nest object: its "request duration" would be its whole life.
    if (!reply.raw.writableEnded) releaseFrameworkListeners(reply.raw);
  }
}
