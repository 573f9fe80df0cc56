import { getJson } from './api.js';

const POLL_MS = 1000;

/**
 * The test-data panel: counts (`GET /main/testdata`), the latest creation's progress
 * (`GET /main/testdata/job`, polled every second while it runs), and a form that starts a creation
 * (`POST /main/testdata` with `wait: false`) or cancels it (`DELETE /main/testdata/job`) with the
 * admin token typed in (kept in this tab only).
 */
export function testdataPanel($) {
  const token = () => $('job-token').value.trim();
  const admin = (method, path, body) =>
    fetch(path, {
      method,
      headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then(async (response) => {
      const answer = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error(answer.message ?? `HTTP ${response.status}`);
      return answer;
    });
  $('job-token').value = sessionStorage.getItem('kubescaler-admin-token') ?? '';
  $('job-token').onchange = () => sessionStorage.setItem('kubescaler-admin-token', token());

  const showCounts = () =>
    getJson('/main/testdata').then(
      (counts) =>
        ($('counts').textContent =
          `${counts.users.toLocaleString()} users, ${counts.profiles.toLocaleString()} profiles`),
      (error) => ($('counts').textContent = `counts: ${error.message}`),
    );

  let timer;
  const showJob = async () => {
    clearTimeout(timer);
    let job;
    try {
      job = await getJson('/main/testdata/job');
    } catch (error) {
      $('job').textContent = error.status === 404 ? 'No creation has run recently.' : `job: ${error.message}`;
      $('job-progress').hidden = true;
      $('job-cancel').disabled = true;
      return;
    }
    const done =
      `${job.created.users.toLocaleString()} of ${job.planned.users.toLocaleString()} users, ` +
      `${job.created.profiles.toLocaleString()} of ${job.planned.profiles.toLocaleString()} profiles`;
    $('job').textContent =
      `Creation ${job.state} (pod ${job.pod}): ${done}, ${job.usersPerSecond.toLocaleString()} users/s` +
      (job.error ? ` — ${job.error}` : '');
    $('job-progress').hidden = false;
    $('job-progress').max = job.planned.profiles;
    $('job-progress').value = job.created.profiles;
    $('job-cancel').disabled = job.state !== 'running';
    void showCounts();
    if (job.state === 'running') timer = setTimeout(showJob, POLL_MS);
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
    void showJob();
  });
  $('job-cancel').onclick = () =>
    admin('DELETE', '/main/testdata/job').then(
      showJob,
      (error) => ($('job').textContent = `Not cancelled: ${error.message}`),
    );

  void showCounts();
  void showJob();
}
