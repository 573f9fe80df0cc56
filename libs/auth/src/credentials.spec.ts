import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cookieValue, extractCredential } from './credentials.js';

describe(extractCredential.name, () => {
  const request = (headers: { authorization?: string; cookie?: string }, url = '/stream/u/p') => ({ headers, url });

  it('finds the token in each of the three transports', () => {
    assert.deepEqual(extractCredential(request({ authorization: 'Bearer abc.def.ghi' })), {
      token: 'abc.def.ghi',
      transport: 'header',
    });
    assert.deepEqual(extractCredential(request({}, '/stream/u/p?x=1&access_token=abc.def')), {
      token: 'abc.def',
      transport: 'query',
    });
    assert.deepEqual(extractCredential(request({ cookie: 'theme=dark; kubescaler_session=c.o.k' })), {
      token: 'c.o.k',
      transport: 'cookie',
    });
  });

  it('prefers the explicit transports: header, then query, then the cookie the browser adds by itself', () => {
    const all = request({ authorization: 'bearer H', cookie: 'kubescaler_session=C' }, '/s?access_token=Q');
    assert.equal(extractCredential(all)?.transport, 'header');
    assert.equal(extractCredential(request({ cookie: 'kubescaler_session=C' }, '/s?access_token=Q'))?.token, 'Q');
  });

  it('reports nothing presented as undefined, and an empty credential as an empty token', () => {
    assert.equal(extractCredential(request({})), undefined);
    assert.equal(extractCredential(request({ cookie: 'other=1' }, '/s?token=x')), undefined);
    // Another scheme is not a bearer token: it falls through to the other transports.
    assert.equal(extractCredential(request({ authorization: 'Basic dTpw' })), undefined);
    assert.deepEqual(extractCredential(request({ authorization: 'Bearer' })), { token: '', transport: 'header' });
    assert.deepEqual(extractCredential(request({}, '/s?access_token=')), { token: '', transport: 'query' });
  });

  it('decodes the query parameter and ignores a fragment', () => {
    assert.equal(extractCredential(request({}, '/s?access_token=a%2Eb#frag'))?.token, 'a.b');
  });

  it('takes only a parameter literally named access_token, never one whose encoded name decodes to it', () => {
    for (const query of [
      '%61ccess_token=t',
      'access%5Ftoken=t',
      'ACCESS_TOKEN=t',
      'access_token%3D=t',
      '%2561ccess_token=t',
    ]) {
      assert.equal(extractCredential(request({}, `/s?${query}`)), undefined, query);
    }
    assert.equal(extractCredential(request({}, '/s?%61ccess_token=x&access_token=real'))?.token, 'real');
  });
});

describe(cookieValue.name, () => {
  it('reads one cookie among several, quoted or not, and nothing for a prefix match', () => {
    assert.equal(cookieValue('a=1; b="two"; c=3', 'b'), 'two');
    assert.equal(cookieValue('ab=1', 'a'), undefined);
    assert.equal(cookieValue(undefined, 'a'), undefined);
  });
});
