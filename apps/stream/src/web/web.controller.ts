import { Controller, Get, Res } from '@nestjs/common';
import type {} from '@fastify/static';
import type { FastifyReply } from 'fastify';
import { IdParam } from '@app/http';

/** The web client's stream page; every other file under public/ is served as it is. */
@Controller()
export class WebController {
  @Get('index/:userId/:profileId')
  page(@IdParam('userId') _userId: string, @IdParam('profileId') _profileId: string, @Res() reply: FastifyReply): void {
    void reply.header('Cache-Control', 'no-cache').sendFile('stream.html');
  }
}
