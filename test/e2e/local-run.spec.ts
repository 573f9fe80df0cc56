import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { pathToFileURL } from 'node:url';
import { REPO_ROOT } from '@app/testing';

interface AppEnvModule {
  localAppEnv(options: Record<string, unknown>): Record<string, string>;
}

describe('the environment npm start gives the apps', () => {
  const load = async () =>
    (await import(pathToFileURL(path.join(REPO_ROOT, 'scripts/lib/app-env.mjs')).href)) as AppEnvModule;

  it('binds base, main and stream to loopback, whatever the infrastructure says, and hands them the service credential', async () => {
    const { localAppEnv } = await load();
    const env = localAppEnv({
      infraEnv: { HOST: '0.0.0.0', REDIS_URL: 'redis://127.0.0.1:6379' },
      adminToken: 'admin-token-0123456789',
      authSecret: 'a-user-token-secret-of-32-bytes-or-more',
      internalToken: 'internal-token-0123456789',
      baseUrl: 'http://127.0.0.1:3001',
    });
    assert.equal(env.HOST, '127.0.0.1');
    assert.equal(env.INTERNAL_TOKEN, 'internal-token-0123456789');
    assert.equal(env.REDIS_URL, 'redis://127.0.0.1:6379');
    assert.equal(env.AUTH_DEV_LOGIN, 'true');
  });
});
