// Pub/Sub tab: the topics seen since start (published or retained), searchable and paged, and the subscribed
// filters; a topic opens in the viewer with its retained value and its last messages.

import { apiGet } from '../api.js';
import { panelSection } from '../controls.js';
import { definitionItems, element, replaceChildren } from '../dom.js';
import { countFigures, formatCount, formatRelative, formatTime } from '../format.js';
import { createOffsetList } from '../list.js';
import { codeCell } from '../table.js';
import { openViewerFor } from '../viewer.js';

const TOPICS_ERROR_SOURCE = 'pubsub-topics';
const SUBSCRIPTIONS_ERROR_SOURCE = 'pubsub-subscriptions';
/** The server-wide message counts the tab shows, as `[label, field]` of the overview's `pubsub` part. */
const MESSAGE_TOTALS = [
  ['Published', 'published'],
  ['Delivered', 'delivered'],
  ['Dropped for slow subscribers', 'dropped'],
  ['Slow subscribers disconnected', 'evicted'],
  ['Retained messages', 'retained'],
];

export function createPubSubTab() {
  let selectedTopic = null;
  const topicList = createOffsetList({
    endpoint: 'pubsub/topics',
    rowsField: 'topics',
    errorSource: TOPICS_ERROR_SOURCE,
    pagerTestid: 'topics-pager',
    search: { id: 'topic-search', label: 'Topic contains', placeholder: 'orders/', testid: 'topic-search' },
    table: (page, search) => ({
      testid: 'topics-table',
      rowTestid: 'topic-row',
      rowName: (topic) => topic.topic,
      selectedName: selectedTopic,
      onSelect: (topic) => showTopic(topic.topic),
      emptyText:
        search === '' ? 'No topic was published to since the server started.' : `No topic contains “${search}”.`,
      columns: [
        { label: 'Topic', cell: (topic) => codeCell(topic.topic) },
        { label: 'Published', cell: (topic) => formatCount(topic.published), numeric: true },
        { label: 'Subscribers', cell: (topic) => formatCount(topic.subscribers), numeric: true },
        {
          label: 'Retained',
          cell: (topic) => (topic.retained ? element('span', { class: 'badge' }, 'retained') : '—'),
        },
        { label: 'Last published', cell: (topic) => lastPublished(topic.lastPublishedAt) },
      ],
    }),
  });
  const subscriptionList = createOffsetList({
    endpoint: 'pubsub/subscriptions',
    rowsField: 'filters',
    errorSource: SUBSCRIPTIONS_ERROR_SOURCE,
    pagerTestid: 'subscriptions-pager',
    table: () => ({
      testid: 'subscriptions-table',
      rowTestid: 'subscription-row',
      rowName: (entry) => entry.filter,
      emptyText: 'No connection is subscribed.',
      columns: [
        { label: 'Filter', cell: (entry) => codeCell(entry.filter) },
        { label: 'Subscribers', cell: (entry) => formatCount(entry.subscribers), numeric: true },
      ],
    }),
  });

  function showTopic(topic) {
    selectedTopic = topic;
    topicList.render();
    return openViewerFor({
      heading: `Topic ${topic}`,
      load: () => apiGet('pubsub/topic', { topic }),
      describe: topicView,
    });
  }

  const totals = element('dl', { class: 'engine-counts', testid: 'pubsub-totals' });

  /** The server-wide message counts, from each overview poll. */
  function renderTotals(pubsub) {
    replaceChildren(totals, definitionItems(countFigures(pubsub, MESSAGE_TOTALS)));
  }

  const panel = element('div', { class: 'stack' }, [
    panelSection({
      heading: 'Messages since start',
      testid: 'pubsub-messages',
      content: [totals],
    }),
    topicList.section({ heading: 'Topics', testid: 'pubsub-topics' }),
    subscriptionList.section({ heading: 'Subscriptions', testid: 'pubsub-subscriptions' }),
  ]);

  return {
    panel,
    show() {
      return Promise.all([topicList.reload(), subscriptionList.reload()]);
    },
    overview(overview) {
      renderTotals(overview.pubsub);
    },
  };
}

/** The viewer's content for a topic: its counts, its retained value and its recent messages. */
function topicView(answer) {
  return {
    heading: `Topic ${answer.topic}`,
    facts: [
      ['Topic', answer.topic],
      ['Published', formatCount(answer.published)],
      ['Subscribers', formatCount(answer.subscribers)],
    ],
    sections: [
      { heading: 'Retained message', preview: answer.retained, testid: 'viewer-retained' },
      ...answer.recent.map((message, index) => ({
        heading: index === 0 ? `Recent messages, newest first (${answer.recent.length})` : null,
        facts: [['Published at', `${formatTime(message.at)} (${formatRelative(message.at)})`]],
        preview: message.value,
        testid: 'viewer-recent',
      })),
    ],
  };
}

function lastPublished(at) {
  if (at === null || at === undefined) return '—';
  return element('span', { class: 'nowrap', title: formatTime(at) }, formatRelative(at));
}
