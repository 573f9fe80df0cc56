import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { httpLoggerOptions, serializeError } from './logging.js';

const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJl';

describe(serializeError.name, () => {
  it('logs an Error by its type, message and stack, redacted', () => {
    const logged = serializeError(new TypeError(`bad token ${JWT}`));
    assert.equal(logged.type, 'TypeError');
    assert.equal(logged.message, 'bad token [redacted]');
    assert.match(logged.stack ?? '', /^TypeError: bad token \[redacted\]\n/);
  });

  it('reads the plain { type, message, stack } the request logger hands over', () => {
    assert.deepEqual(serializeError({ type: 'Error', message: 'failed with status code 503', stack: 'Error: x' }), {
      type: 'Error',
      message: 'failed with status code 503',
      stack: 'Error: x',
    });
  });

  it('says what anything else is', () => {
    assert.deepEqual(serializeError('plain text'), { message: 'plain text' });
    assert.deepEqual(serializeError({ code: 7 }), { message: '{"code":7}' });
  });
});

describe('request log levels', () => {
  const levelOf = httpLoggerOptions({ app: 'test', podName: 'p', logLevel: 'log', logFormat: 'json' }).customLogLevel!;
  const answer = (url: string, statusCode: number) =>
    levelOf({ url, headers: {} } as IncomingMessage, { statusCode } as ServerResponse, undefined);

  it('logs refusals the app chose (503) as warnings and other server errors as errors', () => {
    assert.equal(answer('/stream/u/p', 503), 'warn');
    assert.equal(answer('/main/users', 500), 'error');
    assert.equal(answer('/main/users', 504), 'error');
    assert.equal(
      levelOf({ url: '/x', headers: {} } as IncomingMessage, { statusCode: 200 } as ServerResponse, new Error('reset')),
      'error',
    );
  });

  it('logs ordinary answers at info and probes at debug', () => {
    assert.equal(answer('/main/users', 200), 'info');
    assert.equal(answer('/main/users', 404), 'info');
    assert.equal(answer('/health/ready', 200), 'debug');
  });
});
