import type { Socket } from 'node:net';
import { AppError, type ErrorCode } from '@app/errors';

/** Node's HTTP parser errors (`clientError`) and the catalog code each is answered with. */
const PARSER_ERRORS: Readonly<Record<string, ErrorCode>> = {
  HPE_HEADER_OVERFLOW: 'HEADERS_TOO_LARGE',
  ERR_HTTP_REQUEST_TIMEOUT: 'REQUEST_TIMEOUT',
};

/**
 * The raw HTTP response for a request Node could not parse (bad request line, bad header, headers
 * too large, a request that never completed): the catalog's JSON like every other error — never
 * Fastify's `{"error":"Bad Request"}` without a `code` — then the connection is closed.
 */
export function clientErrorResponse(error: Error & { code?: string }): string {
  const body = JSON.stringify(AppError.of(PARSER_ERRORS[error.code ?? ''] ?? 'BAD_REQUEST').toBody());
  const { statusCode } = JSON.parse(body) as { statusCode: number };
  return [
    `HTTP/1.1 ${statusCode} ${STATUS_TEXT[statusCode] ?? 'Bad Request'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

/** Fastify's `clientErrorHandler`: answers a parser error with the catalog's JSON, once, and closes. */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset or a socket already written to (a response under way) cannot take an answer.
  if (error.code === 'ECONNRESET' || !socket.writable || (socket as Socket & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy(error);
    return;
  }
  socket.end(clientErrorResponse(error));
}
