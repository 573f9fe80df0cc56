import { el, getJson } from './api.js';
import { markLivePairs } from './live-marks.js';

const $ = (id) => document.getElementById(id);
const PAGE = 20;
const LIVE_REFRESH_MS = 10_000;

function streamLink(userId, profileId, text) {
  return el('a', text, { href: `/index/${userId}/${profileId}`, 'data-user': userId, 'data-profile': profileId });
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
  pickedUser = userId.trim();
  const target = $('login-result');
  $('login-user').value = userId;
  target.className = 'muted';
  target.textContent = 'loading…';
  try {
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

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  showLogin($('login-user').value);
});

/**
 * The users of the users table (one page, ≤ 20: one /main/login each) and the one picked: their
 * live pairs are marked wherever a stream link to them appears, and in the table's "live" column.
 */
let shownUsers = [];
let pickedUser;
async function refreshLive() {
  const users = pickedUser ? [...shownUsers, pickedUser] : shownUsers;
  const live = await markLivePairs(document, users);
  for (const cell of document.querySelectorAll('[data-live-for]')) {
    const mine = live.filter((pair) => pair.userId === cell.dataset.liveFor);
    cell.replaceChildren(
      ...mine.flatMap((pair) => {
        const link = streamLink(pair.userId, pair.profileId, pair.profileId.slice(0, 8));
        link.className = 'live';
        link.title = `live on pod ${pair.pod}`;
        return [link, ' '];
      }),
    );
  }
}
setInterval(() => {
  if (document.visibilityState === 'visible') void refreshLive();
}, LIVE_REFRESH_MS);

pagedTable(
  'profiles',
  '/main/profiles',
  (profile) => {
    const row = el('tr');
    const users = el('td');
    for (const userId of profile.userIds.slice(0, 12)) {
      users.append(streamLink(userId, profile.id, userId.slice(0, 8)), ' ');
    }
    if (profile.userIds.length > 12)
      users.append(el('span', `+${profile.userIds.length - 12} more`, { class: 'muted' }));
    if (profile.userIds.length === 0) users.append(el('span', 'no users', { class: 'muted' }));
    row.append(el('td', profile.name), users);
    return row;
  },
  () => void refreshLive(),
);

pagedTable(
  'users',
  '/main/users',
  (user) => {
    const row = el('tr');
    const name = el('td');
    const pick = el('a', user.name, { href: '#' });
    pick.onclick = (event) => {
      event.preventDefault();
      showLogin(user.id);
    };
    name.append(pick);
    row.append(name, el('td', user.id, { class: 'mono' }), el('td', undefined, { 'data-live-for': user.id }));
    return row;
  },
  (users) => {
    shownUsers = users.map((user) => user.id);
    void refreshLive();
  },
);

getJson('/main/suggested')
  .then(({ items }) => {
    const target = $('suggested');
    if (items.length === 0) {
      target.textContent = 'No user is bound to two profiles yet.';
      return;
    }
    const list = el('ul');
    for (const user of items) {
      const item = el('li', `${user.name}: `);
      for (const profileId of user.profileIds) item.append(streamLink(user.id, profileId, profileId.slice(0, 8)), ' ');
      list.append(item);
    }
    target.className = '';
    target.replaceChildren(list);
  })
  .catch((error) => {
    $('suggested').textContent = `could not load: ${error.message}`;
  });
