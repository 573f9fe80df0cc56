// Who the browser is signed in as (the HttpOnly `kubescaler_session` cookie, sent with every
// same-origin request), and development sign-in where the server offers it (AUTH_DEV_LOGIN=true).
import { el, getJson, sendJson } from './api.js';

/** `{me, devLogin}`: the signed-in user (`GET /main/me`) or undefined, and whether "sign in as" exists. */
export const auth = { me: undefined, devLogin: false };

async function refresh() {
  const [me, devLogin] = await Promise.all([
    getJson('/main/me').catch((error) => {
      if (error.status === 401 || error.status === 403 || error.status === 404) return undefined;
      throw error;
    }),
    getJson('/main/dev-login').then(
      () => true,
      () => false,
    ),
  ]);
  auth.me = me;
  auth.devLogin = devLogin;
  return auth;
}

/** Loaded once per page; `reload()` after signing in or out. */
export const ready = refresh().catch(() => auth);
export const reload = () => refresh();

/** Development sign-in as `userId` (sets the session cookie); resolves with the new `auth`. */
export async function signInAs(userId) {
  await sendJson('POST', '/main/dev-login', { userId });
  return refresh();
}

export async function signOut() {
  await fetch('/main/logout', { method: 'POST' });
  return refresh();
}

/** Signs in as `userId` when development sign-in allows it and the browser is someone else; true when signed in as them. */
export async function ensureSignedInAs(userId) {
  await ready;
  if (auth.me?.userId === userId) return true;
  if (!auth.devLogin) return false;
  await signInAs(userId);
  return auth.me?.userId === userId;
}

/** A "sign in as" button (development sign-in only); `after` runs once signed in. */
export function signInButton(userId, after) {
  const button = el('button', 'sign in as', { 'data-sign-in': userId, type: 'button' });
  button.onclick = async () => {
    button.disabled = true;
    try {
      await signInAs(userId);
      await after?.();
    } finally {
      button.disabled = false;
    }
  };
  return button;
}

/** Renders the signed-in state into `target`: who, until when, and a sign-out button. */
export function renderSession(target, onChange) {
  target.replaceChildren();
  if (auth.me) {
    const out = el('button', 'sign out', { id: 'sign-out', type: 'button' });
    out.onclick = async () => {
      await signOut();
      await onChange?.();
    };
    target.append(
      el('span', 'signed in as '),
      el('strong', auth.me.name, { id: 'signed-in-as', 'data-user': auth.me.userId }),
      el('span', ` until ${new Date(auth.me.expiresAt).toLocaleTimeString()} `, { class: 'muted' }),
      out,
    );
  } else {
    target.append(
      el(
        'span',
        auth.devLogin
          ? 'not signed in: pick a user below and "sign in as" (development sign-in)'
          : 'not signed in: streams need your user token (Authorization: Bearer, or the kubescaler_session cookie)',
        { id: 'not-signed-in', class: 'muted' },
      ),
    );
  }
}
