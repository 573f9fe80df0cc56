/** A high surrogate not followed by a low one, or a low one not preceded by a high one (no `u` flag: code units). */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** C0 controls (NUL, TAB, CR, LF …), DEL and C1 controls. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/** Bidirectional formatting: embeddings, overrides (U+202E), isolates, marks. */
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/u;
/** What renders as nothing: white space, format characters (zero-width and the like), fillers. */
const INVISIBLE = /^[\s\p{Cf}\u115f\u1160\u3164\uffa0\u2800]+$/u;

/**
 * Why `name` cannot be a display name, or undefined when it can: control characters (NUL, CR/LF
 * would split a log line or a header), bidirectional controls (U+202E makes `abc‮txt.exe` read
 * as another name), nothing visible (only zero-width characters), or a lone surrogate (no UTF-8
 * for it: it would be stored as U+FFFD, not as sent).
 */
export function displayNameProblem(name: string): string | undefined {
  if (LONE_SURROGATE.test(name)) return 'name must not contain a lone surrogate (it is not valid Unicode text)';
  if (CONTROL.test(name)) return 'name must not contain control characters (NUL, CR, LF, TAB, DEL, C1)';
  if (BIDI.test(name)) return 'name must not contain bidirectional controls (U+202A–202E, U+2066–2069, marks)';
  if (INVISIBLE.test(name)) return 'name must contain a visible character';
  return undefined;
}
