/** The query parameter that carries a user's token where headers cannot (EventSource). */
export const ACCESS_TOKEN_PARAM = 'access_token';

const ACCESS_TOKEN_IN_TEXT = new RegExp(`([?&;]${ACCESS_TOKEN_PARAM}=)[^&#\\s"'<>]*`, 'gi');

/** `text` with the value of every `access_token=` query parameter replaced, for messages and logs. */
export function redactAccessTokens(text: string): string {
  return text.replace(ACCESS_TOKEN_IN_TEXT, '$1[redacted]');
}
