/** The query parameter that carries a user's token where headers cannot (EventSource). */
export const ACCESS_TOKEN_PARAM = 'access_token';

/** `name=value` after `?`, `&` or `;`: the name up to `=`, the value up to the next separator. */
const PARAMETER_IN_TEXT = /([?&;])([^=&;#\s"'<>?]+)=([^&;#\s"'<>]*)/g;

/**
 * `text` with the value of every `access_token` parameter replaced, for messages and logs: the
 * name in any case, after `?`, `&` or `;`, and also written percent-encoded (`%61ccess_token`,
 * even encoded twice) or not decodable at all — what some decoder might read as the token.
 */
export function redactAccessTokens(text: string): string {
  return text.replace(PARAMETER_IN_TEXT, (whole, separator: string, name: string) =>
    mayNameAccessToken(name) ? `${separator}${name}=[redacted]` : whole,
  );
}

function mayNameAccessToken(name: string): boolean {
  let decoded = name;
  for (let round = 0; round < 3 && decoded.includes('%'); round++) {
    try {
      decoded = decodeURIComponent(decoded);
    } catch {
      return true;
    }
  }
  return decoded.toLowerCase() === ACCESS_TOKEN_PARAM;
}
