// The dashboard page in a real browser: a server of its own with the dashboard on, data seeded in every engine
// through the SDK, and Debian's Chromium (driven by playwright-core) checking that each tab shows that data, that
// the viewer shows values, a queue message and a stream record, and that an action confirmed in the page's own
// dialog takes effect on the server.

import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, type Locator, type Page, chromium } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NexoClient, type Subscription } from '../src/index.js';
import { REPO_ROOT, TestServer } from './server.js';
import { eventually } from './wait.js';

/** Debian's Chromium (`apt-get install -y chromium`); playwright-core downloads no browser of its own. */
const CHROMIUM_PATH = '/usr/bin/chromium';
/** Headless flags; without the background-networking ones Chromium hangs on a closed network. */
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
/** The window the page is checked (and the README screenshot taken) in. */
const VIEWPORT = { width: 1280, height: 800 };
/** How long the page may take to show something: a few overview polls and API calls on a loaded machine. */
const UI_TIMEOUT_MS = 15_000;
/** Where every run saves a screenshot of the page after the action (ignored by git, like the build). */
const TEST_SCREENSHOT_PATH = join(REPO_ROOT, 'target', 'dashboard-browser-test.png');
/** Set to 1 to rewrite docs/dashboard.png, the overview screenshot in the README. */
const SCREENSHOT_VARIABLE = 'NEXO_DASHBOARD_SCREENSHOT';
const SCREENSHOT_PATH = join(REPO_ROOT, 'docs', 'dashboard.png');
/** Seconds of traffic in every engine the README screenshot shows in its sparklines. */
const SCREENSHOT_TRAFFIC_SECONDS = 30;
/** Upper bound of that traffic's duration on a loaded machine. */
const SCREENSHOT_TRAFFIC_TIMEOUT_MS = 90_000;
/** Period of the wave the traffic's rate follows (so the sparklines are not flat). */
const TRAFFIC_WAVE_PERIOD_MS = 4000;
/** Most operations per engine in one round of that traffic. */
const TRAFFIC_WAVE_HEIGHT = 8;
/** Points of every engine's ops/s series in /api/overview. */
const OPS_SERIES_POINTS = 60;
/** The TTL of the expiring key, in seconds (the SDK's unit): long enough to outlive the suite. */
const KEY_TTL_SECONDS = 3600;

const KEYS = {
  json: 'dash:json',
  text: 'dash:text',
  binary: 'dash:binary',
  expiring: 'dash:expiring',
};
const JSON_VALUE = { name: 'Ada', languages: ['en', 'fr'] };
const TEXT_VALUE = 'hello dashboard';
const BINARY_VALUE = Buffer.from([0x00, 0xff, 0x10, 0x80]);
const TOPIC = 'dash/orders/eu';
const TOPIC_FILTER = 'dash/orders/+';
const RETAINED_ORDER = { orderId: 42 };
const QUEUE = 'dash-emails';
const DEAD_JOB = { to: 'dead@example.com' };
const READY_JOBS = [{ to: 'first@example.com' }, { to: 'second@example.com' }];
const FAILURE_REASON = 'smtp timeout';
const STREAM = 'dash-events';
const GROUP = 'billing';
const STREAM_RECORDS = ['u0', 'u1', 'u2', 'u3', 'u4'].map((userId) => ({ type: 'login', userId }));

let server: TestServer;
let client: NexoClient;
let subscription: Subscription;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let dashboardUrl: string;
/** Message ids the SDK gave the seeded jobs. */
let deadJobId: string;
let readyJobIds: string[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `the dashboard test needs Chromium at ${CHROMIUM_PATH}: install it with apt-get install -y chromium`,
    );
  }
  server = await TestServer.start({ shards: 2, dashboard: '127.0.0.1:0' });
  if (server.dashboardPort === null) throw new Error('nexo printed no "dashboard on" line with --dashboard on');
  dashboardUrl = `http://127.0.0.1:${server.dashboardPort}/`;
  client = await NexoClient.connect({ host: '127.0.0.1', port: server.port, logger: null });
  await seed();
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
});

afterAll(async () => {
  await browser?.close();
  await subscription?.unsubscribe();
  await client?.close();
  await server?.stop();
});

beforeEach(async () => {
  context = await browser.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
  page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  await page.goto(dashboardUrl);
});

afterEach(async () => {
  await context.close();
});

/** One of each kind of data in every engine. */
async function seed(): Promise<void> {
  await client.store.map.set(KEYS.json, JSON_VALUE);
  await client.store.map.set(KEYS.text, TEXT_VALUE);
  await client.store.map.set(KEYS.binary, BINARY_VALUE);
  await client.store.map.set(KEYS.expiring, 'soon gone', { ttl: KEY_TTL_SECONDS });

  subscription = await client.pubsub(TOPIC_FILTER).subscribe(() => {});
  await client.pubsub(TOPIC).publish(RETAINED_ORDER, { retain: true });

  // No retries: the one nack dead-letters the job. It is pushed and popped first, so it is the one that fails.
  const queue = await client.queue(QUEUE).create({ maxRetries: 0 });
  deadJobId = await queue.push(DEAD_JOB);
  const [popped] = await queue.pop();
  expect(popped?.id).toBe(deadJobId);
  await popped?.nack(FAILURE_REASON);
  readyJobIds = await queue.pushBatch(READY_JOBS.map((data) => ({ data })));

  const stream = await client.stream(STREAM).create();
  await stream.publishBatch(STREAM_RECORDS);
  await stream.seek(GROUP, 'beginning');
}

/** The row of table rows `testid` whose `data-name` is `name`. */
function row(testid: string, name: string): Locator {
  return page.locator(`[data-testid="${testid}"][data-name=${JSON.stringify(name)}]`);
}

/** The text of each cell of `locator` (a table row). */
function cellTexts(locator: Locator): Promise<string[]> {
  return locator.locator('td').allTextContents();
}

/** Waits until the cells of `locator` read `expected`. */
async function waitForCells(locator: Locator, expected: string[], what: string): Promise<void> {
  await locator.waitFor();
  await eventually(async () => (await cellTexts(locator)).join('|') === expected.join('|'), UI_TIMEOUT_MS, what);
}

/** A `<dl>` of label / value pairs (overview counts, viewer facts) as an object. */
function definitions(locator: Locator): Promise<Record<string, string>> {
  return locator.evaluate((list) =>
    Object.fromEntries(
      [...list.querySelectorAll('dt')].map((term) => [
        term.textContent ?? '',
        term.nextElementSibling?.textContent ?? '',
      ]),
    ),
  );
}

async function openTab(id: 'overview' | 'store' | 'pubsub' | 'queues' | 'streams'): Promise<void> {
  await page.getByTestId(`tab-${id}`).click();
  await page.getByTestId(`panel-${id}`).waitFor();
}

describe('overview', () => {
  it('draws a 60-point ops/s sparkline per engine and shows the seeded counts of every engine', async () => {
    for (const engine of ['store', 'pubsub', 'queues', 'streams']) {
      const sparkline = page.getByTestId(`sparkline-${engine}`);
      await sparkline.waitFor();
      expect(await sparkline.getAttribute('data-points')).toBe(String(OPS_SERIES_POINTS));
    }
    await eventually(
      async () => (await definitions(page.getByTestId('counts-queues'))).Dead === '1',
      UI_TIMEOUT_MS,
      'the overview showing the dead-lettered job',
    );
    expect(await definitions(page.getByTestId('counts-store'))).toEqual({ Keys: String(Object.keys(KEYS).length) });
    expect(await definitions(page.getByTestId('counts-queues'))).toMatchObject({ Queues: '1', Ready: '2', Dead: '1' });
    expect(await definitions(page.getByTestId('counts-streams'))).toMatchObject({
      Streams: '1',
      Records: '5',
      Groups: '1',
    });
    expect(await definitions(page.getByTestId('counts-pubsub'))).toMatchObject({ Retained: '1' });
    expect(await page.getByTestId('connection-status').textContent()).toBe('Live');
  });
});

describe('store tab', () => {
  it('lists the keys matching a pattern with their type, size and TTL', async () => {
    await openTab('store');
    await page.getByTestId('store-pattern').fill('dash:*');
    await page.getByTestId('store-pattern').press('Enter');
    await waitForCells(
      row('store-row', KEYS.json),
      [KEYS.json, 'json', `${JSON.stringify(JSON_VALUE).length} B`, 'no expiry'],
      'the JSON key row',
    );
    await waitForCells(
      row('store-row', KEYS.text),
      [KEYS.text, 'utf8', `${TEXT_VALUE.length} B`, 'no expiry'],
      'the text key row',
    );
    await waitForCells(
      row('store-row', KEYS.binary),
      [KEYS.binary, 'raw', `${BINARY_VALUE.length} B`, 'no expiry'],
      'the binary key row',
    );
    const [, , , ttl] = await cellTexts(row('store-row', KEYS.expiring));
    expect(ttl).toMatch(/^\d+ min \d+ s$/);
    expect(await page.getByTestId('store-row').count()).toBe(Object.keys(KEYS).length);
  });

  it('shows a JSON value pretty-printed, a string as text and a binary value as a hex dump in the viewer', async () => {
    await openTab('store');
    await row('store-row', KEYS.json).click();
    await page.getByTestId('viewer-heading').filter({ hasText: KEYS.json }).waitFor();
    expect(await page.getByTestId('viewer-value-kind').textContent()).toBe('JSON');
    expect(await page.getByTestId('viewer-value-content').textContent()).toBe(JSON.stringify(JSON_VALUE, null, 2));

    await row('store-row', KEYS.text).click();
    await page.getByTestId('viewer-heading').filter({ hasText: KEYS.text }).waitFor();
    expect(await page.getByTestId('viewer-value-kind').textContent()).toBe('text');
    expect(await page.getByTestId('viewer-value-content').textContent()).toBe(TEXT_VALUE);

    await row('store-row', KEYS.binary).click();
    await page.getByTestId('viewer-heading').filter({ hasText: KEYS.binary }).waitFor();
    expect(await page.getByTestId('viewer-value-kind').textContent()).toBe('binary');
    expect(await page.getByTestId('viewer-value-size').textContent()).toBe(`${BINARY_VALUE.length} B`);
    expect(await page.getByTestId('viewer-value-content').textContent()).toContain('00 ff 10 80');
    expect(await page.getByTestId('viewer-value-truncated').count()).toBe(0);
  });
});

describe('pub/sub tab', () => {
  it('lists the topic with its subscriber and retained message, the subscribed filter and the message totals', async () => {
    await openTab('pubsub');
    const topicRow = row('topic-row', TOPIC);
    await topicRow.waitFor();
    const [topic, published, subscribers, retained] = await cellTexts(topicRow);
    expect([topic, published, subscribers, retained]).toEqual([TOPIC, '1', '1', 'retained']);
    await waitForCells(row('subscription-row', TOPIC_FILTER), [TOPIC_FILTER, '1'], 'the subscription row');
    await page.getByTestId('pubsub-totals').getByText('Dropped for slow subscribers').waitFor();
    expect(await definitions(page.getByTestId('pubsub-totals'))).toMatchObject({
      Published: '1',
      'Dropped for slow subscribers': '0',
      'Retained messages': '1',
    });
  });

  it('shows the topic retained value and its recent message in the viewer', async () => {
    await openTab('pubsub');
    await row('topic-row', TOPIC).click();
    await page.getByTestId('viewer-retained').waitFor();
    expect(await page.getByTestId('viewer-retained-content').textContent()).toBe(
      JSON.stringify(RETAINED_ORDER, null, 2),
    );
    expect(await page.getByTestId('viewer-recent-content').allTextContents()).toEqual([
      JSON.stringify(RETAINED_ORDER, null, 2),
    ]);
  });
});

describe('queues tab', () => {
  it('shows the queue counts per state and its ready messages', async () => {
    await openTab('queues');
    await waitForCells(row('queue-row', QUEUE), [QUEUE, '2', '0', '0', '1', '0'], 'the queue row');
    await row('queue-row', QUEUE).click();
    for (const [index, id] of readyJobIds.entries()) {
      await row('message-row', id).waitFor();
      expect(await row('message-row', id).locator('td').last().textContent()).toBe(JSON.stringify(READY_JOBS[index]));
    }
  });

  it('opens a ready message and the dead message with its attempts and failure reason in the viewer', async () => {
    await openTab('queues');
    await row('queue-row', QUEUE).click();
    const [firstReadyId] = readyJobIds;
    await row('message-row', firstReadyId ?? '').click();
    await page
      .getByTestId('viewer-heading')
      .filter({ hasText: `Message ${firstReadyId}` })
      .waitFor();
    expect(await page.getByTestId('viewer-value-content').textContent()).toBe(JSON.stringify(READY_JOBS[0], null, 2));
    expect(await definitions(page.getByTestId('viewer-facts'))).toMatchObject({ State: 'ready', Attempts: '0' });

    await page.getByTestId('queue-state-dead').click();
    await row('message-row', deadJobId).getByTestId('failure-reason').filter({ hasText: FAILURE_REASON }).waitFor();
    await row('message-row', deadJobId).click();
    await page
      .getByTestId('viewer-heading')
      .filter({ hasText: `Message ${deadJobId}` })
      .waitFor();
    expect(await page.getByTestId('viewer-value-content').textContent()).toBe(JSON.stringify(DEAD_JOB, null, 2));
    expect(await definitions(page.getByTestId('viewer-facts'))).toMatchObject({
      State: 'dead',
      Attempts: '1',
      'Failure reason': FAILURE_REASON,
    });
  });
});

describe('streams tab', () => {
  it('shows the stream, its consumer group lag, and its records from an offset', async () => {
    await openTab('streams');
    const [name, firstOffset, nextOffset, records] = await (async () => {
      await row('stream-row', STREAM).waitFor();
      return cellTexts(row('stream-row', STREAM));
    })();
    expect([name, firstOffset, nextOffset, records]).toEqual([STREAM, '0', '5', '5']);
    await row('stream-row', STREAM).click();
    const [group, committed, lag] = await (async () => {
      await row('group-row', GROUP).waitFor();
      return cellTexts(row('group-row', GROUP));
    })();
    expect([group, committed, lag]).toEqual([GROUP, '0', '5']);
    await row('record-row', '0').waitFor();
    expect(await page.getByTestId('record-row').count()).toBe(STREAM_RECORDS.length);

    await page.getByTestId('records-from').fill('3');
    await page.getByTestId('records-read').click();
    await row('record-row', '0').waitFor({ state: 'detached' });
    expect(
      await page.getByTestId('record-row').evaluateAll((rows) => rows.map((each) => each.getAttribute('data-name'))),
    ).toEqual(['3', '4']);
  });

  it('opens a record in the viewer', async () => {
    await openTab('streams');
    await row('stream-row', STREAM).click();
    await row('record-row', '3').click();
    await page.getByTestId('viewer-heading').filter({ hasText: 'Record 3' }).waitFor();
    expect(await page.getByTestId('viewer-value-content').textContent()).toBe(
      JSON.stringify(STREAM_RECORDS[3], null, 2),
    );
    expect(await definitions(page.getByTestId('viewer-facts'))).toMatchObject({ Stream: STREAM, Offset: '3' });
  });
});

describe('actions', () => {
  it('retrying the dead message through the confirmation dialog moves it back to the ready messages (screenshot saved)', async () => {
    await openTab('queues');
    await row('queue-row', QUEUE).click();
    await page.getByTestId('queue-state-dead').click();
    await row('message-row', deadJobId).getByTestId('retry-dead-row').click();
    await page.getByTestId('confirm-dialog').waitFor();
    await page.getByTestId('confirm-button').click();
    await page.getByTestId('action-result').filter({ hasText: 'Moved 1 dead message' }).waitFor();
    await waitForCells(row('queue-row', QUEUE), [QUEUE, '3', '0', '0', '0', '0'], 'the queue row after the retry');
    expect(await client.queue(QUEUE).stats()).toMatchObject({ ready: 3, deadLettered: 0 });
    await page.screenshot({ path: TEST_SCREENSHOT_PATH });
    expect(statSync(TEST_SCREENSHOT_PATH).size).toBeGreaterThan(0);
  });
});

describe('README screenshot', () => {
  it.runIf(process.env[SCREENSHOT_VARIABLE] === '1')(
    'saves the overview after traffic in every engine to docs/dashboard.png',
    async () => {
      await generateTraffic();
      await page.getByTestId('tab-overview').click();
      await eventually(
        async () => (await page.getByTestId('ops-store').textContent()) !== '0',
        UI_TIMEOUT_MS,
        'the overview showing the traffic',
      );
      await page.screenshot({ path: SCREENSHOT_PATH });
    },
    SCREENSHOT_TRAFFIC_TIMEOUT_MS + UI_TIMEOUT_MS,
  );
});

/**
 * Store writes, publishes, queue pushes and pops, and stream appends at a rate that rises and falls, until the
 * store's ops/s series in /api/overview has `SCREENSHOT_TRAFFIC_SECONDS` busy seconds. Runs after every other
 * test: it adds keys, a queue and a stream of its own.
 */
async function generateTraffic(): Promise<void> {
  const queue = await client.queue<{ job: number }>('dash-traffic').create();
  const stream = await client.stream<{ event: number }>('dash-traffic').create();
  const topic = client.pubsub(`${TOPIC}/traffic`);
  const started = Date.now();
  while ((await busySeconds()) < SCREENSHOT_TRAFFIC_SECONDS) {
    if (Date.now() - started > SCREENSHOT_TRAFFIC_TIMEOUT_MS) throw new Error('the traffic took too long');
    const phase = ((Date.now() - started) / TRAFFIC_WAVE_PERIOD_MS) * 2 * Math.PI;
    const count = 1 + Math.round((TRAFFIC_WAVE_HEIGHT / 2) * (1 + Math.sin(phase)));
    const indexes = Array.from({ length: count }, (_, index) => index);
    await Promise.all([
      ...indexes.map((index) => client.store.map.set(`dash:traffic:${index}`, { index, at: Date.now() })),
      ...indexes.map((index) => topic.publish({ index })),
      queue
        .pushBatch(indexes.map((index) => ({ data: { job: index } })))
        .then(() => queue.pop({ count }))
        .then((jobs) => Promise.all(jobs.map((job) => job.ack()))),
      stream.publishBatch(indexes.map((index) => ({ event: index }))),
    ]);
  }
}

/** Seconds of the last minute in which the store served requests, from /api/overview. */
async function busySeconds(): Promise<number> {
  const overview = (await (await fetch(`${dashboardUrl}api/overview`)).json()) as { store: { opsPerSecond: number[] } };
  return overview.store.opsPerSecond.filter((count) => count > 0).length;
}
