import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientErrorResponse } from './client-error.js';

function parse(raw: string): { status: number; headers: string; body: { statusCode: number; code: string } } {
  const [head, body] = raw.split('\r\n\r\n') as [string, string];
  return { status: Number(head.split(' ')[1]), headers: head, body: JSON.parse(body) };
}

describe(clientErrorResponse.name, () => {
  it('answers headers too large 431 HEADERS_TOO_LARGE in the catalog JSON, and closes', () => {
    const sut = parse(
      clientErrorResponse(Object.assign(new Error('Header overflow'), { code: 'HPE_HEADER_OVERFLOW' })),
    );
    assert.equal(sut.status, 431);
    assert.deepEqual([sut.body.statusCode, sut.body.code], [431, 'HEADERS_TOO_LARGE']);
    assert.match(sut.headers, /\r\nContent-Type: application\/json; charset=utf-8\r\n/);
    assert.match(sut.headers, /\r\nConnection: close(\r\n|$)/);
  });

  it('answers any other parser error 400 BAD_REQUEST with a code, never Fastify\'s {"error": …}', () => {
    for (const code of ['HPE_INVALID_HEADER_TOKEN', 'HPE_INVALID_METHOD', undefined]) {
      const sut = parse(clientErrorResponse(Object.assign(new Error('Parse Error'), { code })));
      assert.deepEqual([sut.status, sut.body.statusCode, sut.body.code], [400, 400, 'BAD_REQUEST']);
      assert.equal('error' in sut.body, false);
    }
  });

  it('answers a request that never completed 408 REQUEST_TIMEOUT', () => {
    const sut = parse(clientErrorResponse(Object.assign(new Error('timeout'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' })));
    assert.deepEqual([sut.status, sut.body.code], [408, 'REQUEST_TIMEOUT']);
  });
});
