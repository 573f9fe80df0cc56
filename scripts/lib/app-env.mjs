/**
 * The environment `npm start` gives base, main and every stream replica. Only the gateway listens
 * beyond loopback: the apps — their APIs, `/metrics` and `/health` — bind to 127.0.0.1, so from
 * another machine everything goes through nginx's rules. base asks every caller for
 * `INTERNAL_TOKEN` (or the admin token); main and stream send it.
 */
export function localAppEnv({ infraEnv, adminToken, authSecret, internalToken, devLogin, logFormat, baseUrl }) {
  return {
    ...infraEnv,
    HOST: '127.0.0.1',
    ADMIN_TOKEN: adminToken,
    AUTH_JWT_SECRET: authSecret,
    INTERNAL_TOKEN: internalToken,
    // The local system is for development: "sign in as" any user from the landing page.
    AUTH_DEV_LOGIN: devLogin ?? 'true',
    BASE_URL: baseUrl,
    // One readable line per event in a terminal; production writes JSON lines.
    LOG_FORMAT: logFormat ?? 'pretty',
  };
}

/** Rate limits high enough for a test suite or a load benchmark, whose every client is one address. */
export const UNTHROTTLED = Object.freeze({
  RATE_LIMIT_SIGN_IN_PER_MINUTE: '100000000',
  RATE_LIMIT_LOGIN_PER_MINUTE: '100000000',
  RATE_LIMIT_STREAM_OPENS_PER_MINUTE: '100000000',
});
