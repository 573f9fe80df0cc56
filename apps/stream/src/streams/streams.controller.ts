import { Controller, Get, Param, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { StreamsService } from './streams.service.js';

@Controller('stream')
export class StreamsController {
  constructor(private readonly streams: StreamsService) {}

  /**
   * `text/event-stream` for one (user, profile) pair. Refusals come before any byte, as JSON:
   * 400 bad id, 404 unknown, 403 not bound, 409 in use elsewhere, 503 (+ Retry-After) when
   * Redis or base is down or the pod is full.
   */
  @Get(':userId/:profileId')
  async stream(
    @Param('userId') userId: string,
    @Param('profileId') profileId: string,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.streams.open(userId, profileId, request.raw, reply.raw);
    // The socket belongs to the session now (or was released because the client left).
    reply.hijack();
  }
}
