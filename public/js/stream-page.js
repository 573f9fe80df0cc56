import { el } from './api.js';
import { auth, ready, renderSession, signInAs } from './auth.js';
import { LiveChart } from './chart.js';
import { eventAge, RateWindow } from './live-stats.js';
import { SseParser } from './sse-parser.js';

const [, , userId, profileId] = location.pathname.split('/');
const $ = (id) => document.getElementById(id);
$('user-id').textContent = userId;
$('profile-id').textContent = profileId;

const RECENT_ROWS = 20;
const MAX_BACKOFF_MS = 15_000;
/** Refusals that retrying cannot fix, by status and code. */
const FINAL = {
  400: 'refused: bad id',
  401: 'refused: sign in first',
  403: 'refused: not bound',
  '403 FORBIDDEN': "refused: another user's stream",
  404: 'refused: unknown user or profile',
};

const PUBLISHED_ROWS = 20;
/** Events the stream itself sends; every other named event was published. */
const STREAM_EVENTS = new Set(['hello', 'lock-lost', 'reconnect', 'refused', 'events-lost']);

const stats = { received: 0, dropped: 0, lastSeq: undefined, bytes: [], lagMs: undefined, published: 0 };
/** The whole id of the last event (seq.entry.session): sent back as Last-Event-ID, as EventSource does. */
let lastEventId;
/** The history entry the last id carried: a published event moves it. */
let lastEntry = '0-0';
const window60 = new RateWindow(60);
const chart = new LiveChart($('chart'));
let attempt = 0;
let controller;

function setState(state, label, detail = '') {
  const badge = $('state');
  badge.className = `state ${state}`;
  badge.dataset.state = state;
  badge.textContent = label;
  $('detail').textContent = detail;
}

function render() {
  $('received').textContent = stats.received;
  $('dropped').textContent = stats.dropped;
  $('last-seq').textContent = stats.lastSeq ?? '–';
  $('published-count').textContent = stats.published;
  const now = performance.now();
  stats.bytes = stats.bytes.filter(([at]) => now - at < 3000);
  const bits = stats.bytes.reduce((sum, [, n]) => sum + n, 0) * 8;
  $('throughput').textContent = Math.round(bits / 3 / 1000);
  $('lag').textContent = stats.lagMs === undefined ? '–' : Math.round(stats.lagMs);
}
setInterval(render, 500);

function drawChart() {
  const points = window60.series(Date.now());
  chart.draw(points);
  const canvas = $('chart');
  const last = points.at(-1);
  canvas.dataset.kbps = Math.round(last.kbps);
  canvas.dataset.received = last.received;
  canvas.dataset.dropped = last.dropped;
  canvas.dataset.drawnAt = Date.now();
}
drawChart();
setInterval(drawChart, 1000);

/** Notes the event's id; true when it moved the history entry (a published event). */
function track(id) {
  if (id === undefined) return false;
  lastEventId = id;
  const [, entry] = id.split('.');
  if (entry === undefined || entry === lastEntry) return false;
  lastEntry = entry;
  return true;
}

/** A published event: its name, its entry, when it arrived and its data (the JSON, shortened). */
function onPublished(event) {
  stats.published++;
  const row = el('tr');
  let text = event.data;
  try {
    text = JSON.stringify(JSON.parse(event.data));
  } catch {
    // shown as it came
  }
  row.append(
    el('td', event.event),
    el('td', event.id.split('.')[1]),
    el('td', new Date().toLocaleTimeString()),
    el('td', text.length > 200 ? `${text.slice(0, 200)}…` : text, { class: 'mono' }),
  );
  const body = $('published');
  body.prepend(row);
  while (body.rows.length > PUBLISHED_ROWS) body.deleteRow(-1);
}

function onMessage(message) {
  const arrivedAt = Date.now();
  const seq = Number(message.id.split('.')[0]);
  // The server numbers every event it generates; a gap is an event it dropped for us (also across
  // a reconnect, since the next pod continues from Last-Event-ID).
  const gap = stats.lastSeq !== undefined && seq > stats.lastSeq + 1 ? seq - stats.lastSeq - 1 : 0;
  stats.dropped += gap;
  stats.lastSeq = seq;
  stats.received++;
  // Read only the small fields; the payload itself is never rendered.
  const data = JSON.parse(message.data);
  stats.lagMs = eventAge(arrivedAt, data.timestamp);
  window60.add(arrivedAt, { received: 1, dropped: gap });
  const row = el('tr');
  row.append(
    el('td', data.host),
    el('td', new Date(data.timestamp).toLocaleTimeString()),
    el('td', String(data.seq)),
    el('td', `${(message.data.length / 1024).toFixed(1)} KiB`),
  );
  const body = $('events');
  body.prepend(row);
  while (body.rows.length > RECENT_ROWS) body.deleteRow(-1);
}

function retry(state, label, detail) {
  const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(attempt, 5)) * (0.75 + Math.random() / 2);
  attempt++;
  setState(state, label, `${detail} — retrying in ${(delay / 1000).toFixed(1)} s`);
  setTimeout(connect, delay);
}

async function connect() {
  controller = new AbortController();
  setState(attempt === 0 ? 'connecting' : 'reconnecting', attempt === 0 ? 'connecting' : 'reconnecting');
  let response;
  try {
    // JSON too: refusals then come as their status (409 …) instead of a `refused` stream.
    const headers = { accept: 'text/event-stream, application/json' };
    // As EventSource does: the next pod continues the sequence and replays the published events
    // missed, and a reconnect of this same session takes the pair over from a dead connection.
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    response = await fetch(`/stream/${userId}/${profileId}`, {
      headers,
      signal: controller.signal,
      cache: 'no-store',
    });
  } catch {
    return retry('reconnecting', 'reconnecting', 'network error');
  }
  if (!response.ok) {
    const body = await response.json().catch(() => ({}));
    if ((response.status === 401 || response.status === 403) && (await authorize(response.status))) {
      return connect();
    }
    const final = FINAL[`${response.status} ${body.code}`] ?? FINAL[response.status];
    if (final) return setState('refused', final, body.message ?? '');
    if (response.status === 409) return retry('refused', 'in use elsewhere', body.message ?? '');
    return retry('unavailable', 'unavailable', body.message ?? `HTTP ${response.status}`);
  }
  const parser = new SseParser();
  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  let ending;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      stats.bytes.push([performance.now(), value.length]);
      window60.add(Date.now(), { bytes: value.length });
      for (const event of parser.feed(decoder.decode(value, { stream: true }))) {
        const published = track(event.id);
        if (event.event === 'hello') {
          const hello = JSON.parse(event.data);
          attempt = 0;
          setState('live', `live on pod ${hello.pod}`, `fencing token ${hello.fencingToken}`);
        } else if (event.event === 'events-lost') {
          $('history-note').textContent =
            'Some published events were lost while disconnected (outside the history); newer ones follow.';
        } else if (published || (!STREAM_EVENTS.has(event.event) && event.event !== 'message')) {
          onPublished(event);
        } else if (event.event === 'message') {
          onMessage(event);
        } else if (event.event === 'lock-lost' || event.event === 'reconnect') {
          ending = event.event;
        }
      }
    }
  } catch {
    // the connection broke; handled below like any other end
  }
  if (ending === 'lock-lost') return retry('lock-lost', 'lock lost', 'the pair lock could not be renewed');
  if (ending === 'reconnect') return retry('reconnecting', 'reconnecting', 'the pod is shutting down');
  return retry('reconnecting', 'reconnecting', 'stream ended');
}

/**
 * A refused token. With development sign-in, a browser that is signed in as nobody becomes this
 * page's user at once (the landing page's links are then one click); one signed in as someone
 * else is refused, and offered to switch. Resolves true when it is worth connecting again.
 */
async function authorize(status) {
  await ready;
  if (!auth.devLogin) return false;
  if (status === 401 && !auth.me && !authorize.tried) {
    authorize.tried = true;
    await signInAs(userId).catch(() => undefined);
    renderSession($('session'));
    return auth.me?.userId === userId;
  }
  const button = el('button', 'sign in as this user', { id: 'switch-user', type: 'button' });
  button.onclick = async () => {
    button.remove();
    await signInAs(userId);
    renderSession($('session'));
    attempt = 0;
    connect();
  };
  $('auth-action').replaceChildren(button);
  return false;
}

ready.then(() => renderSession($('session')));

// Leaving the page closes the stream at once, which frees the pair for another tab.
addEventListener('pagehide', () => controller?.abort());
connect();
