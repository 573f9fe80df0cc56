import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { IPPROTO_TCP, loadSetSockOpt, NotsentLowat, TCP_NOTSENT_LOWAT } from './notsent-lowat.js';

const socket = {} as Socket;

class Log {
  readonly lines: string[] = [];
  warn(message: string): void {
    this.lines.push(message);
  }
}

describe(NotsentLowat.name, () => {
  it('sets TCP_NOTSENT_LOWAT to the configured bytes on each socket', () => {
    const calls: number[][] = [];
    const sut = new NotsentLowat(
      131_072,
      (_s, level, option, value) => void calls.push([level, option, value]),
      new Log(),
    );
    assert.equal(sut.apply(socket), true);
    assert.deepEqual(calls, [[IPPROTO_TCP, TCP_NOTSENT_LOWAT, 131_072]]);
    assert.equal(sut.applied, true);
    assert.equal(sut.appliedSockets, 1);
  });

  it('lowers a socket that is behind to 1 byte and restores the configured cap when it catches up', () => {
    const values: number[] = [];
    const sut = new NotsentLowat(131_072, (_s, _l, _o, value) => void values.push(value), new Log());
    sut.setBehind(socket, true);
    sut.setBehind(socket, false);
    assert.deepEqual(values, [1, 131_072]);
  });

  it('says once in the log that the option cannot be set, counts every failure and reports it as not applied', () => {
    const log = new Log();
    const sut = new NotsentLowat(
      131_072,
      () => {
        throw new Error('setsockopt failed: Operation not supported (95)');
      },
      log,
    );
    assert.equal(sut.applied, true, 'nothing failed yet');
    assert.equal(sut.apply(socket), false);
    assert.equal(sut.apply(socket), false);
    assert.equal(sut.failures, 2);
    assert.equal(sut.applied, false);
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /TCP_NOTSENT_LOWAT \(131072 bytes\) cannot be set .*Operation not supported/);
    assert.match(sut.failure!, /Operation not supported/);
  });

  it('reports at once, and once, when setsockopt is not available at all', () => {
    const log = new Log();
    const sut = new NotsentLowat(131_072, { unavailable: 'the native module "sockopt" did not load' }, log);
    assert.equal(sut.applied, false);
    assert.equal(sut.apply(socket), false);
    assert.equal(sut.failures, 1);
    assert.equal(log.lines.length, 1);
    assert.match(log.lines[0]!, /sockopt/);
  });

  it('leaves a socket that is already closing alone, without counting a failure', () => {
    let calls = 0;
    const sut = new NotsentLowat(131_072, () => void calls++, new Log());
    assert.equal(sut.setBehind({ destroyed: true } as Socket, true), false);
    assert.equal(calls, 0);
    assert.equal(sut.failures, 0);
    assert.equal(sut.applied, true);
  });

  it('counts a response without a socket as a failure instead of throwing', () => {
    const sut = new NotsentLowat(131_072, () => undefined, new Log());
    assert.equal(sut.apply(undefined), false);
    assert.equal(sut.failures, 1);
  });

  it('sets nothing and says so once when configured to 0', () => {
    const log = new Log();
    let calls = 0;
    const sut = new NotsentLowat(0, () => void calls++, log);
    assert.equal(sut.apply(socket), false);
    assert.equal(sut.setBehind(socket, true), false);
    assert.equal(calls, 0);
    assert.equal(sut.state, 'disabled');
    assert.equal(sut.applied, false);
    assert.equal(log.lines.length, 1);
  });
});

describe(loadSetSockOpt.name, () => {
  it('refuses platforms other than Linux, whose option number it would get wrong', async () => {
    const result = await loadSetSockOpt('darwin');
    assert.equal(typeof result, 'object');
    assert.match((result as { unavailable: string }).unavailable, /only on Linux \(this is darwin\)/);
  });

  it('loads the native setsockopt on Linux', async () => {
    assert.equal(typeof (await loadSetSockOpt('linux')), 'function', 'npm sockopt did not build at install');
  });
});
