// Overview tab: the server's vital signs (uptime, connections, memory, data dir) and one card per engine with
// its ops/s sparkline over the last minute and its counts. It does not fetch: app.js polls /api/overview and
// hands each answer to `render`.

import { definitionItems, element, replaceChildren } from '../dom.js';
import { countFigures, formatBytes, formatCount, formatDuration, formatTime } from '../format.js';
import { renderSparkline } from '../sparkline.js';

/**
 * The engine cards: which tab each opens, and the counts each shows from its part of the overview, as
 * `[label, field, format]` (see `countFigures`).
 */
const ENGINE_CARDS = [
  {
    engine: 'store',
    title: 'Store',
    counts: [['Keys', 'keys']],
  },
  {
    engine: 'pubsub',
    title: 'Pub/Sub',
    counts: [
      ['Subscriptions', 'subscriptions'],
      ['Subscribers', 'subscribers'],
      ['Retained', 'retained'],
      ['Published', 'published'],
      ['Delivered', 'delivered'],
      ['Dropped', 'dropped'],
      ['Evicted', 'evicted'],
    ],
  },
  {
    engine: 'queues',
    title: 'Queues',
    counts: [
      ['Queues', 'queues'],
      ['Ready', 'ready'],
      ['Delayed', 'delayed'],
      ['In flight', 'inFlight'],
      ['Dead', 'dead'],
      ['Consumers', 'consumers'],
    ],
  },
  {
    engine: 'streams',
    title: 'Streams',
    counts: [
      ['Streams', 'streams'],
      ['Records', 'records'],
      ['Bytes', 'bytes', formatBytes],
      ['Groups', 'groups'],
    ],
  },
];

/** `openTab(id)` switches tabs (an engine card's link opens its tab). */
export function createOverviewTab({ openTab }) {
  const content = element(
    'div',
    { class: 'overview', testid: 'overview' },
    element('p', { class: 'muted' }, 'Waiting for the first overview…'),
  );
  const panel = element('div', {}, [content]);

  return {
    panel,
    show() {},
    /** Draws one /api/overview answer. */
    render(overview) {
      replaceChildren(content, [
        element('div', { class: 'vitals', testid: 'vitals' }, vitalCards(overview)),
        element(
          'div',
          { class: 'engine-cards' },
          ENGINE_CARDS.map((card) => engineCard(card, overview[card.engine], openTab)),
        ),
        element('p', { class: 'muted updated', testid: 'overview-updated' }, `Updated ${formatTime(Date.now())}`),
      ]);
    },
  };
}

function vitalCards(overview) {
  const { memory, dataDir } = overview;
  const storeLimit = memory.storeMaxBytes === 0 ? 'no limit' : `of ${formatBytes(memory.storeMaxBytes)}`;
  return [
    vital('uptime', 'Uptime', formatDuration(overview.uptimeMs), `version ${overview.version}`),
    vital('connections', 'Connections', formatCount(overview.connections), `${formatCount(overview.shards)} shards`),
    vital(
      'memory',
      'Memory (RSS)',
      formatBytes(memory.rssBytes),
      `store ${formatBytes(memory.storeUsedBytes)} ${storeLimit}`,
    ),
    vital('data-dir', 'Data dir', formatBytes(dataDir.bytes), dataDir.path),
  ];
}

function vital(testid, label, value, detail) {
  return element('div', { class: 'vital', testid: `vital-${testid}` }, [
    element('div', { class: 'vital-label' }, label),
    element('div', { class: 'vital-value', testid: `vital-${testid}-value` }, value),
    element('div', { class: 'vital-detail', title: detail }, detail),
  ]);
}

function engineCard({ engine, title, counts }, section, openTab) {
  const series = section.opsPerSecond;
  const current = series.length === 0 ? 0 : series[series.length - 1];
  const peak = Math.max(0, ...series);
  return element('section', { class: 'engine-card', testid: `engine-card-${engine}`, 'aria-label': title }, [
    element('header', { class: 'engine-card-header' }, [
      element('h2', {}, title),
      element(
        'button',
        { type: 'button', class: 'link', testid: `open-tab-${engine}`, onclick: () => openTab(engine) },
        `Open ${title} →`,
      ),
    ]),
    element('div', { class: 'engine-rate' }, [
      element('span', { class: 'rate-value', testid: `ops-${engine}` }, formatCount(current)),
      element('span', { class: 'rate-unit' }, 'ops/s'),
      element('span', { class: 'rate-peak muted' }, `peak ${formatCount(peak)} in the last ${series.length} s`),
    ]),
    renderSparkline(series, {
      label: `${title} operations per second over the last ${series.length} seconds: now ${current}, peak ${peak}`,
      testid: `sparkline-${engine}`,
    }),
    element(
      'dl',
      { class: 'engine-counts', testid: `counts-${engine}` },
      definitionItems(countFigures(section, counts)),
    ),
  ]);
}
