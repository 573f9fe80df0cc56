import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { mintUserToken, REPO_ROOT, request, testInfra } from '@app/testing';
import { NetworkSwitch } from '../support/network-switch.js';
import { ADMIN_TOKEN, createPairs, startSystem, type System } from '../support/system.js';

/** Screenshots land here (ignored by git) as artifacts of the run. */
const ARTIFACTS = join(REPO_ROOT, 'test-results');

describe('web client in Chromium', () => {
  testInfra();
  let system: System;
  let browser: Browser;
  let pairs: Array<{ userId: string; profileId: string }>;

  before(async () => {
    system = await startSystem({ streams: 2, env: { STREAM_EVENTS_PER_SECOND: '10', STREAM_EVENT_BYTES: '4096' } });
    pairs = await createPairs(system.base.url, 2);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    mkdirSync(ARTIFACTS, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await system?.stop();
  });

  /**
   * Console errors, script errors and 404 answers a page met: a page whose resources all exist has
   * none. The refusals the page handles (401 before signing in, 403, 409) are not problems.
   */
  const problems = new Map<Page, string[]>();
  const HANDLED_REFUSAL = /^Failed to load resource: the server responded with a status of (401|403|409) /;
  const watch = (page: Page): Page => {
    const seen: string[] = [];
    problems.set(page, seen);
    page.on('console', (message) => {
      if (message.type() === 'error' && !HANDLED_REFUSAL.test(message.text())) seen.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => seen.push(`script: ${error.message}`));
    page.on('response', (response) => {
      if (response.status() === 404) seen.push(`404 ${response.url()}`);
    });
    return page;
  };
  const open = async (userId: string, profileId: string): Promise<Page> => {
    const page = watch(await browser.newPage());
    await page.goto(`${system.gateway.url}/index/${userId}/${profileId}`);
    return page;
  };
  const state = (page: Page) => page.locator('#state');
  const counter = async (page: Page, id: string) => Number(await page.locator(`#${id}`).textContent());

  it('streams a bound pair: live on a pod with its fencing token, and the counters move', async () => {
    const { userId, profileId } = pairs[0]!;
    const page = await open(userId, profileId);
    await page.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    assert.match((await state(page).textContent()) ?? '', /^live on pod stream-[12]$/);
    assert.match((await page.locator('#detail').textContent()) ?? '', /fencing token \d+/);
    await page.waitForFunction(() => Number(document.querySelector('#received')?.textContent) >= 10, undefined, {
      timeout: 10_000,
    });
    const first = await counter(page, 'received');
    await page.waitForTimeout(1000);
    assert.ok((await counter(page, 'received')) > first, 'received keeps growing');
    assert.equal(await counter(page, 'dropped'), 0);
    await page.waitForFunction(() => Number(document.querySelector('#throughput')?.textContent) > 0);
    const rows = await page.locator('#events tr').count();
    assert.ok(rows > 0 && rows <= 20, `recent events table holds ${rows} rows`);
    assert.doesNotMatch(
      (await page.locator('#events').textContent()) ?? '',
      /[A-Za-z0-9_-]{200}/,
      'no payload rendered',
    );
    await page.screenshot({ path: join(ARTIFACTS, 'stream-page.png'), fullPage: true });
    assert.deepEqual(problems.get(page), [], 'no console error, no 404 (favicon included)');
    await page.close();
  });

  it('shows the lag and a live chart of the last 60 s that moves', async () => {
    const { userId, profileId } = pairs[0]!;
    const page = await open(userId, profileId);
    await page.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    await page.waitForFunction(
      () => Number(document.querySelector<HTMLCanvasElement>('#chart')?.dataset.received) >= 8,
      undefined,
      {
        timeout: 10_000,
      },
    );
    const lag = Number(await page.locator('#lag').textContent());
    assert.ok(Number.isFinite(lag) && lag >= 0 && lag < 2000, `lag ${lag} ms`);
    const canvas = page.locator('#chart');
    const drawing = () => canvas.evaluate((c: HTMLCanvasElement) => c.toDataURL());
    const dataset = () => canvas.evaluate((c: HTMLCanvasElement) => ({ ...c.dataset }));
    const before = { image: await drawing(), data: await dataset() };
    // 10 events/s of 4 KiB: ≈ 330 kbit/s and ≈ 10 events in each whole second, none dropped.
    assert.ok(Number(before.data.kbps) > 100, `kbit/s ${before.data.kbps}`);
    assert.equal(before.data.dropped, '0');
    await page.waitForTimeout(2500);
    const after = { image: await drawing(), data: await dataset() };
    assert.ok(Number(after.data.drawnAt) > Number(before.data.drawnAt), 'the chart is redrawn');
    assert.notEqual(after.image, before.image, 'the chart moves');
    const width = await canvas.evaluate((c: HTMLCanvasElement) => c.width);
    assert.ok(width > 300, `canvas ${width} px wide`);
    const laterLag = Number(await page.locator('#lag').textContent());
    assert.ok(Number.isFinite(laterLag) && laterLag < 2000, `lag ${laterLag} ms`);
    await page.locator('#chart').screenshot({ path: join(ARTIFACTS, 'stream-chart.png') });
    await page.screenshot({ path: join(ARTIFACTS, 'stream-page-chart.png'), fullPage: true });
    assert.deepEqual(problems.get(page), []);
    await page.close();
  });

  it('shows "in use elsewhere" in a second page, which connects once the first one closes', async () => {
    const { userId, profileId } = pairs[1]!;
    const first = await open(userId, profileId);
    await first.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    const second = await open(userId, profileId);
    await second.waitForFunction(
      () => document.querySelector('#state')?.textContent === 'in use elsewhere',
      undefined,
      {
        timeout: 10_000,
      },
    );
    await second.screenshot({ path: join(ARTIFACTS, 'in-use-elsewhere.png') });
    await first.close();
    await second.waitForSelector('#state[data-state="live"]', { timeout: 15_000 });
    const login = await request(system.gateway.url, 'GET', `/main/login/${userId}`);
    assert.equal(login.body.activeProfiles.length, 1);
    await second.close();
  });

  it('shows "not bound" for an unbound pair and does not retry', async () => {
    const [a, b] = pairs as [{ userId: string; profileId: string }, { userId: string; profileId: string }];
    const page = await open(a.userId, b.profileId);
    await page.waitForFunction(
      () => document.querySelector('#state')?.textContent === 'refused: not bound',
      undefined,
      {
        timeout: 10_000,
      },
    );
    await page.waitForTimeout(1500);
    assert.equal(await state(page).textContent(), 'refused: not bound');
    await page.close();
  });

  it("signs in as a user on the landing page and streams; a second user is refused the first one's page", async () => {
    const [a, b] = (await createPairs(system.base.url, 2)) as [
      { userId: string; profileId: string },
      { userId: string; profileId: string },
    ];
    const first = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await first.goto(`${system.gateway.url}/`);
    await first.waitForSelector('#not-signed-in', { timeout: 10_000 });
    await first.click(`button[data-sign-in="${a.userId}"]`);
    await first.waitForSelector(`#signed-in-as[data-user="${a.userId}"]`, { timeout: 10_000 });
    const session = (await first.context().cookies()).find((cookie) => cookie.name === 'kubescaler_session');
    assert.ok(session, 'the session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Lax');
    assert.equal(session.path, '/');
    assert.ok(!(await first.evaluate(() => document.cookie)).includes('kubescaler_session'), 'scripts cannot read it');
    // The signed-in user's own profiles, each one click from its stream.
    await first.click(`#my-profiles-table a[data-profile="${a.profileId}"]`);
    await first.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    assert.match((await first.locator('#session').textContent()) ?? '', /signed in as user 0/);
    await first.screenshot({ path: join(ARTIFACTS, 'signed-in-stream.png'), fullPage: true });

    const second = await browser.newPage({ viewport: { width: 1300, height: 900 } });
    await second.goto(`${system.gateway.url}/`);
    await second.click(`button[data-sign-in="${b.userId}"]`);
    await second.waitForSelector(`#signed-in-as[data-user="${b.userId}"]`, { timeout: 10_000 });
    await second.goto(`${system.gateway.url}/index/${a.userId}/${a.profileId}`);
    await second.waitForFunction(
      () => document.querySelector('#state')?.textContent === "refused: another user's stream",
      undefined,
      { timeout: 10_000 },
    );
    await second.waitForTimeout(1500);
    assert.equal(await state(second).textContent(), "refused: another user's stream", 'no retry after 403');
    assert.equal(await second.locator('#switch-user').count(), 1, 'development sign-in offers to switch');
    await second.screenshot({ path: join(ARTIFACTS, 'another-users-stream.png'), fullPage: true });

    // The refusal cost the first user nothing: still live, still receiving.
    const received = await counter(first, 'received');
    await first.waitForFunction((n) => Number(document.querySelector('#received')?.textContent) > n, received, {
      timeout: 5000,
    });
    assert.equal(await state(first).getAttribute('data-state'), 'live');
    await second.close();
    await first.close();
  });

  it("lists users, profiles and suggestions on the landing page and shows a user's live profiles", async () => {
    const { userId, profileId } = pairs[0]!;
    const streamPage = await open(userId, profileId);
    await streamPage.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    const page = watch(await browser.newPage({ viewport: { width: 1300, height: 900 } }));
    await page.goto(`${system.gateway.url}/`);
    await page.waitForSelector(`#profiles a[data-profile="${profileId}"]`, { timeout: 10_000 });
    await page.waitForFunction(() => document.querySelectorAll('#users tr').length >= 2, undefined, {
      timeout: 10_000,
    });
    await page.fill('#login-user', userId);
    await page.click('#login-form button');
    await page.waitForSelector(`#login-result a[data-profile="${profileId}"]`, { timeout: 10_000 });
    assert.match((await page.locator('#login-result').textContent()) ?? '', /stream-[12]/);
    // Picking the user signed in as them (development sign-in): their live pair is marked wherever
    // it is linked.
    await page.waitForSelector(`#profiles a.live[data-user="${userId}"][data-profile="${profileId}"]`, {
      timeout: 10_000,
    });
    await page.waitForSelector(`#my-profiles-table a.live[data-profile="${profileId}"]`);
    assert.equal(await page.locator('#profiles a.live').count(), 1, 'only the live pair is marked');
    await page.screenshot({ path: join(ARTIFACTS, 'landing-page.png'), fullPage: true });
    await streamPage.close();
    // Once the stream ends the mark goes (the next refresh; picking the user again refreshes now).
    await page.click('#login-form button');
    await page.waitForSelector(`#profiles a.live`, { state: 'detached', timeout: 12_000 });
    assert.deepEqual(problems.get(page), [], 'no console error, no 404 (favicon included)');
    await page.close();
  });

  it("shows a creation's progress on the landing page, started and cancelled there with the admin token", async () => {
    const page = watch(await browser.newPage());
    await page.goto(`${system.gateway.url}/`);
    await page.waitForFunction(() =>
      /\d+ users, \d+ profiles/.test(document.querySelector('#counts')?.textContent ?? ''),
    );
    // 25 batches of 20 profiles: the cancel lands while most are still to come.
    await page.fill('#job-profiles', '500');
    await page.fill('#job-users', '200');
    await page.fill('#job-shared', '0');
    await page.fill('#job-token', ADMIN_TOKEN);
    await page.click('#job-form button[type="submit"]');
    await page.waitForSelector('#job[data-state="running"]', { timeout: 10_000 });
    assert.match((await page.locator('#job').textContent()) ?? '', /of 100,000 users, .* of 500 profiles/);
    assert.equal(await page.locator('#job-progress').isVisible(), true);
    await page.click('#job-cancel');
    await page.waitForSelector('#job[data-state="cancelled"]', { timeout: 30_000 });
    const value = Number(await page.locator('#job-progress').getAttribute('value'));
    assert.ok(value > 0 && value < 500, `progress stopped at ${value} of 500 profiles`);
    assert.deepEqual(problems.get(page), []);
    await page.close();
  });

  it('sends Last-Event-ID with the last seq it received when it reconnects to another pod', async () => {
    const [pair] = await createPairs(system.base.url, 1);
    const { userId, profileId } = pair!;
    const page = await browser.newPage();
    const streamRequests: Array<Record<string, string>> = [];
    page.on('request', (req) => {
      if (new URL(req.url()).pathname.startsWith('/stream/')) streamRequests.push(req.headers());
    });
    await page.goto(`${system.gateway.url}/index/${userId}/${profileId}`);
    await page.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    await page.waitForFunction(() => Number(document.querySelector('#received')?.textContent) >= 5);
    const pod = ((await state(page).textContent()) ?? '').replace('live on pod ', '');
    const seqBefore = await counter(page, 'last-seq');
    // The pod shuts down (`event: reconnect`, lock released): the page reconnects, through nginx, to the other one.
    await system.streams[Number(pod.replace('stream-', '')) - 1]!.stop('SIGTERM');
    await page.waitForFunction(
      (old) =>
        /^live on pod stream-\d$/.test(document.querySelector('#state')?.textContent ?? '') &&
        document.querySelector('#state')?.textContent !== `live on pod ${old}`,
      pod,
      { timeout: 20_000 },
    );
    assert.equal(streamRequests[0]!['last-event-id'], undefined, 'the first connection has no Last-Event-ID');
    const resumed = streamRequests.at(-1)!['last-event-id'];
    const match = /^(\d+)\.\d+-\d+\.[0-9a-f]{16}$/.exec(resumed ?? '');
    assert.ok(match, `the reconnect carries Last-Event-ID (${resumed})`);
    assert.ok(Number(match[1]) >= seqBefore, `Last-Event-ID ${resumed} has the last seq received (≥ ${seqBefore})`);
    await page.close();
  });

  it('renders the events a publisher sends to the pair, beside the generated ones', async () => {
    const [pair] = await createPairs(system.base.url, 1);
    const { userId, profileId } = pair!;
    const page = await open(userId, profileId);
    await page.waitForSelector('#state[data-state="live"]', { timeout: 10_000 });
    const published = await request(system.gateway.url, 'POST', `/main/publish/${userId}/${profileId}`, {
      auth: 'none',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      body: { event: 'order.filled', data: { orderId: 'A-17', qty: 3 } },
    });
    assert.equal(published.status, 202, JSON.stringify(published.body));
    await page.waitForSelector('#published tr', { timeout: 5000 });
    const row = (await page.locator('#published tr').first().textContent()) ?? '';
    assert.match(row, /order\.filled/);
    assert.ok(row.includes(published.body.id), `the row names the entry ${published.body.id}`);
    assert.match(row, /"orderId":"A-17"/);
    // The counters are redrawn twice a second.
    await page.waitForFunction(() => document.querySelector('#published-count')?.textContent === '1', undefined, {
      timeout: 2000,
    });
    assert.equal(await counter(page, 'dropped'), 0, 'a published event is no gap in the generated sequence');
    await page.screenshot({ path: join(ARTIFACTS, 'published-events.png'), fullPage: true });
    assert.deepEqual(problems.get(page), []);
    await page.close();
  });

  it("keeps the browser's own EventSource streaming: a network switch gets it back at once, another tab waits", async () => {
    const [pair] = await createPairs(system.base.url, 1);
    const { userId, profileId } = pair!;
    // A pod still running (an earlier case stopped one).
    const pod = system.streams.find((app) => app.child.exitCode === null && app.child.signalCode === null)!;
    const network = await new NetworkSwitch(Number(new URL(pod.url).port)).start();
    try {
      const token = await mintUserToken(userId);
      const url = `/stream/${userId}/${profileId}?access_token=${token}`;
      const watchSource = (page: Page) =>
        page.evaluate((src) => {
          const w = window as unknown as { seen: { hellos: number[]; refused: number; closedForGood: boolean } };
          w.seen = { hellos: [], refused: 0, closedForGood: false };
          const source = new EventSource(src);
          source.addEventListener('hello', (e) =>
            w.seen.hellos.push(JSON.parse((e as MessageEvent).data).fencingToken),
          );
          source.addEventListener('refused', () => w.seen.refused++);
          source.addEventListener('error', () => {
            if (source.readyState === EventSource.CLOSED) w.seen.closedForGood = true;
          });
          (window as unknown as { source: EventSource }).source = source;
        }, url);
      const seen = (page: Page) =>
        page.evaluate(
          () => (window as unknown as { seen: { hellos: number[]; refused: number; closedForGood: boolean } }).seen,
        );

      const first = await browser.newPage();
      await first.goto(`${network.url}/`);
      await watchSource(first);
      await first.waitForFunction(() => (window as unknown as { seen: { hellos: number[] } }).seen.hellos.length === 1);
      const second = await browser.newPage();
      await second.goto(`${pod.url}/`);
      await watchSource(second);
      await second.waitForFunction(
        () => (window as unknown as { seen: { refused: number } }).seen.refused >= 1,
        undefined,
        {
          timeout: 10_000,
        },
      );

      network.switchNetwork();
      await first.waitForFunction(
        () => (window as unknown as { seen: { hellos: number[] } }).seen.hellos.length === 2,
        undefined,
        {
          timeout: 10_000,
        },
      );
      const [before, after] = (await seen(first)).hellos as [number, number];
      assert.ok(after > before, `new fencing token ${after} > ${before}`);
      const other = await seen(second);
      assert.deepEqual([other.hellos.length, other.closedForGood], [0, false], 'the other tab waits, retrying');

      await first.close();
      await second.waitForFunction(
        () => (window as unknown as { seen: { hellos: number[] } }).seen.hellos.length === 1,
        undefined,
        {
          timeout: 15_000,
        },
      );
      assert.equal((await seen(second)).closedForGood, false);
      await second.close();
    } finally {
      await network.stop();
    }
  });
});
