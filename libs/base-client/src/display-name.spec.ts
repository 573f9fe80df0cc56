import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nameSchema } from './contract.js';
import { displayNameProblem } from './display-name.js';

describe(displayNameProblem.name, () => {
  it('accepts names in any script, with spaces, punctuation, emoji and joiners inside them', () => {
    for (const name of ['Ann', 'Zoë Ölçer', '山田 太郎', 'مريم', 'O’Brien-Smith', '👩‍💻 dev', 'a\u200db']) {
      assert.equal(displayNameProblem(name), undefined, name);
    }
  });

  it('refuses control characters: NUL, CR, LF, TAB, DEL and C1', () => {
    for (const name of ['a\u0000b', 'a\rb', 'a\nb', 'a\tb', 'a\u007fb', 'a\u0085b']) {
      assert.match(displayNameProblem(name) ?? '', /control character/, JSON.stringify(name));
    }
  });

  it('refuses bidirectional controls such as U+202E, which make a name read as another', () => {
    for (const name of ['abc\u202etxt.exe', '\u2066x\u2069', 'a\u200fb', 'a\u061cb']) {
      assert.match(displayNameProblem(name) ?? '', /bidirectional/, JSON.stringify(name));
    }
  });

  it('refuses a name made only of invisible characters', () => {
    for (const name of ['\u200b', '\u200b\u200c\u200d', '\ufeff', '\u2060 \u00ad', '\u3164']) {
      assert.match(displayNameProblem(name) ?? '', /visible/, JSON.stringify(name));
    }
  });

  it('leaves the empty name to the length rule', () => {
    assert.equal(displayNameProblem(''), undefined);
  });

  it('refuses lone surrogates, which no encoding can carry', () => {
    for (const name of ['a\ud800', '\udc00b', 'x\ud83dy']) {
      assert.match(displayNameProblem(name) ?? '', /surrogate/, JSON.stringify(name));
    }
  });
});

describe('nameSchema', () => {
  it('marks a refused name with the INVALID_NAME code for the validation pipe', () => {
    const result = nameSchema.safeParse('a\u0000b');
    assert.equal(result.success, false);
    assert.deepEqual(
      result.error!.issues.map((issue) => (issue as { params?: unknown }).params),
      [{ code: 'INVALID_NAME' }],
    );
    assert.equal(nameSchema.parse('  Ann  '), 'Ann');
  });
});
