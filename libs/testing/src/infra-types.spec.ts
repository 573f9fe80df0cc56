import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';

// libs/infra is plain JavaScript (npm start runs it before anything is built); its declared types
// (`*.d.mts` beside each module) are what libs/testing compiles against, so they must name exactly
// what the module exports.
describe('@app/infra declared types', () => {
  for (const name of ['node-app', 'redis']) {
    it(`declares every value ${name}.mjs exports, and nothing it does not`, async () => {
      const declared = readFileSync(
        fileURLToPath(import.meta.resolve(`@app/infra/${name}.mjs`).replace(/\.mjs$/, '.d.mts')),
        'utf8',
      );
      const declaredValues = [...declared.matchAll(/^export (?:declare )?(?:function|const|class) (\w+)/gm)].map(
        (m) => m[1],
      );
      const module = (await import(`@app/infra/${name}.mjs`)) as Record<string, unknown>;
      assert.deepEqual([...new Set(declaredValues)].sort(), Object.keys(module).sort());
    });
  }
});
