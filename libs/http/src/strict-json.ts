import type { FastifyInstance } from 'fastify';
import { AppError } from '@app/errors';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/**
 * Replaces Fastify's JSON body parser with one that refuses a body that is not valid UTF-8 (400
 * `INVALID_ENCODING`) instead of reading it with U+FFFD in place of the bad bytes — a name
 * stored that way is not what the client sent. The text is then parsed by Fastify's own JSON
 * parser (prototype-poisoning protection and the body limit unchanged).
 */
export function useStrictJsonParser(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'ignore');
  fastify.removeContentTypeParser('application/json');
  fastify.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string;
    try {
      text = UTF8.decode(body as Buffer);
    } catch {
      done(AppError.of('INVALID_ENCODING'), undefined);
      return;
    }
    parseJson(request, text, done);
  });
}
