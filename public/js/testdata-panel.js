import { getJson } from './api.js';

const POLL_MS = 1000;

/**
 * The test-data panel: counts and the latest creation's progress (`GET /main/testdata`, polled
 * every second while a creation runs), and a form that starts a creation
 * (`POST /main/testdata` with `wait: false`) or cancels it (`DELETE /main/testdata/job`) with the
 * admin token typed in (kept in this tab only).
 */
export function testdataPanel($) {
  const token = () => $('job-token').value.trim();
  const admin = (method, path, body) => {
    const headers = { authorization: `Bearer ${token()}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    return fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }).then(
      async (response) => {
        const answer = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(answer.message ?? `HTTP ${response.status}`);
        return answer;
      },
    );
  };
  $('job-token').value = sessionStorage.getItem('kubescaler-admin-token') ?? '';
  $('job-token').onchange = () => sessionStorage.setItem('kubescaler-admin-token', token());

  let timer;
  /** Counts and the latest creation from `GET /main/testdata`; polled every second while one runs. */
  const show = async () => {
    clearTimeout(timer);
    let data;
    try {
      data = await getJson('/main/testdata');
    } catch (error) {
      $('counts').textContent = `counts: ${error.message}`;
      return;
    }
    $('counts').textContent = `${data.users.toLocaleString()} users, ${data.profiles.toLocaleString()} profiles`;
    const job = data.job;
    $('job-progress').hidden = !job;
    $('job-cancel').disabled = job?.state !== 'running';
    if (!job) {
      $('job').textContent = 'No creation has run recently.';
      return;
    }
    const made =
      `${job.created.users.toLocaleString()} of ${job.planned.users.toLocaleString()} users, ` +
      `${job.created.profiles.toLocaleString()} of ${job.planned.profiles.toLocaleString()} profiles`;
    $('job').textContent =
      `Creation ${job.state} (pod ${job.pod}): ${made}, ${job.usersPerSecond.toLocaleString()} users/s` +
      (job.error ? ` — ${job.error}` : '');
    $('job').dataset.state = job.state;
    $('job-progress').max = job.planned.profiles;
    $('job-progress').value = job.created.profiles;
    if (job.state === 'running') timer = setTimeout(show, POLL_MS);
  };

  $('job-form').addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = {
      profiles: Number($('job-profiles').value),
      usersPerProfile: Number($('job-users').value),
      sharedUsers: Number($('job-shared').value),
      wait: false,
    };
    try {
      await admin('POST', '/main/testdata', body);
    } catch (error) {
      $('job').textContent = `Not started: ${error.message}`;
      return;
    }
    void show();
  });
  $('job-cancel').onclick = () =>
    admin('DELETE', '/main/testdata/job').then(
      show,
      (error) => ($('job').textContent = `Not cancelled: ${error.message}`),
    );

  void show();
}
