import { el, getJson } from './api.js';
import { auth, ensureSignedInAs, ready, renderSession, signInButton } from './auth.js';
import { markLivePairs } from './live-marks.js';
import { testdataPanel } from './testdata-panel.js';

const $ = (id) => document.getElementById(id);
const PAGE = 20;
const LIVE_REFRESH_MS = 10_000;

/** A link to a pair's stream page; with development sign-in, following it signs in as that user first. */
function streamLink(userId, profileId, text) {
  const link = el('a', text, { href: `/index/${userId}/${profileId}`, 'data-user': userId, 'data-profile': profileId });
  link.onclick = async (event) => {
    if (!auth.devLogin || auth.me?.userId === userId) return;
    event.preventDefault();
    // Whatever sign-in says, the stream page shows the outcome (live, or why it was refused).
    await ensureSignedInAs(userId).catch(() => false);
    location.href = link.href;
  };
  return link;
}

/** The signed-in user's own profiles, each a link to its stream, marked when live now. */
async function showMe() {
  renderSession($('session'), showMe);
  void refreshLive();
  const target = $('my-profiles');
  target.replaceChildren();
  if (!auth.me) return;
  const live = await getJson(`/main/login/${auth.me.userId}`).then(
    (login) => new Map(login.activeProfiles.map((active) => [active.profileId, active])),
    () => new Map(),
  );
  if (auth.me.profiles.length === 0) {
    target.append(el('p', 'You are not bound to any profile.', { class: 'muted' }));
    return;
  }
  const table = el('table', undefined, { id: 'my-profiles-table' });
  table.append(el('tr'));
  table.rows[0].append(el('th', 'your profile'), el('th', 'live now'));
  for (const profile of auth.me.profiles) {
    const row = el('tr');
    const cell = el('td');
    cell.append(streamLink(auth.me.userId, profile.id, profile.name));
    const active = live.get(profile.id);
    row.append(cell, el('td', active ? `on ${active.pod} since ${new Date(active.since).toLocaleTimeString()}` : '–'));
    table.append(row);
  }
  target.append(table);
}

/** A paged table over a `/main/...` list endpoint with opaque `nextPage` tokens. */
function pagedTable(name, path, renderRow, onLoad = () => {}) {
  const pages = [undefined];
  const load = async (index) => {
    const token = pages[index];
    try {
      const data = await getJson(`${path}?limit=${PAGE}${token ? `&page=${encodeURIComponent(token)}` : ''}`);
      const body = $(name);
      body.replaceChildren(...data.items.map(renderRow));
      pages[index + 1] = data.nextPage;
      $(`${name}-next`).disabled = !data.nextPage;
      $(`${name}-first`).disabled = index === 0;
      $(`${name}-info`).textContent = data.items.length ? `page ${index + 1}` : 'none yet';
      $(`${name}-next`).onclick = () => load(index + 1);
      onLoad(data.items);
    } catch (error) {
      $(`${name}-info`).textContent = `could not load: ${error.message}`;
    }
  };
  $(`${name}-first`).onclick = () => load(0);
  return load(0);
}

async function showLogin(userId) {
  const target = $('login-result');
  $('login-user').value = userId;
  target.className = 'muted';
  target.textContent = 'loading…';
  try {
    // A user's live profiles are theirs to see: with development sign-in, become that user first.
    if (await ensureSignedInAs(userId.trim()).catch(() => false)) await showMe();
    const login = await getJson(`/main/login/${encodeURIComponent(userId.trim())}`);
    if (login.activeProfiles.length === 0) {
      target.textContent = 'No live profiles for this user right now.';
      return;
    }
    const table = el('table');
    table.append(el('tr'));
    table.rows[0].append(el('th', 'profile'), el('th', 'pod'), el('th', 'since'));
    for (const active of login.activeProfiles) {
      const row = el('tr');
      const cell = el('td');
      cell.append(streamLink(login.userId, active.profileId, active.profileId));
      row.append(cell, el('td', active.pod), el('td', new Date(active.since).toLocaleTimeString()));
      table.append(row);
    }
    target.className = '';
    target.replaceChildren(table);
    void refreshLive();
  } catch (error) {
    target.className = 'error';
    target.textContent = error.message;
  }
}

/**
 * Marks the signed-in user's live pairs wherever a stream link to them appears (a user may see
 * only their own: `/main/login/:userId` needs that user's token), and keeps the marks current.
 */
function refreshLive() {
  return markLivePairs(document, auth.me ? [auth.me.userId] : []);
}
setInterval(() => {
  if (document.visibilityState === 'visible') void refreshLive();
}, LIVE_REFRESH_MS);

await ready;
await showMe().catch((error) => ($('session').textContent = `could not load: ${error.message}`));

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  showLogin($('login-user').value);
});

pagedTable(
  'profiles',
  '/main/profiles',
  (profile) => {
    const row = el('tr');
    const users = el('td');
    for (const userId of profile.userIds.slice(0, 12)) {
      users.append(streamLink(userId, profile.id, userId.slice(0, 8)), ' ');
    }
    if (profile.userIds.length > 12 || profile.moreUsers)
      users.append(
        el('span', profile.moreUsers ? '+ more' : `+${profile.userIds.length - 12} more`, { class: 'muted' }),
      );
    if (profile.userIds.length === 0) users.append(el('span', 'no users', { class: 'muted' }));
    row.append(el('td', profile.name), users);
    return row;
  },
  () => void refreshLive(),
);

pagedTable('users', '/main/users', (user) => {
  const row = el('tr');
  const name = el('td');
  const pick = el('a', user.name, { href: '#' });
  pick.onclick = (event) => {
    event.preventDefault();
    showLogin(user.id);
  };
  name.append(pick);
  const action = el('td');
  if (auth.devLogin) action.append(signInButton(user.id, showMe));
  row.append(name, el('td', user.id, { class: 'mono' }), action);
  return row;
});

testdataPanel($);

getJson('/main/suggested')
  .then(({ items }) => {
    const target = $('suggested');
    if (items.length === 0) {
      target.textContent = 'No user is bound to two profiles yet.';
      return;
    }
    const list = el('ul');
    for (const user of items) {
      const item = el('li', `${user.name} (${user.profileCount} profiles): `);
      for (const profileId of user.profileIds) item.append(streamLink(user.id, profileId, profileId.slice(0, 8)), ' ');
      if (user.profileCount > user.profileIds.length) item.append(el('span', '…', { class: 'muted' }));
      list.append(item);
    }
    target.className = '';
    target.replaceChildren(list);
  })
  .catch((error) => {
    $('suggested').textContent = `could not load: ${error.message}`;
  });
