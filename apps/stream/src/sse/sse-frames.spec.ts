import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodeComment, encodeEvent } from './sse-frames.js';

describe(encodeEvent.name, () => {
  it('writes retry, id, event and data fields in order and ends with a blank line', () => {
    const sut = encodeEvent({ retry: 2000, id: 7, event: 'hello', data: '{"a":1}' }).toString();
    assert.equal(sut, 'retry: 2000\nid: 7\nevent: hello\ndata: {"a":1}\n\n');
  });

  it('splits multi-line data into several data lines', () => {
    assert.equal(
      encodeEvent({ data: 'one\ntwo\r\nthree\rfour' }).toString(),
      'data: one\ndata: two\ndata: three\ndata: four\n\n',
    );
  });

  it('strips line breaks from event and id so they cannot inject fields', () => {
    assert.equal(encodeEvent({ event: 'x\ndata: evil', id: '1\r\n2' }).toString(), 'id: 12\nevent: xdata: evil\n\n');
  });
});

describe(encodeComment.name, () => {
  it('writes a comment line that EventSource ignores', () => {
    assert.equal(encodeComment('heartbeat\n').toString(), ': heartbeat\n\n');
  });
});
