// Pub/Sub tab: the topics seen since start (published or retained), searchable and paged, and the subscribed
// filters; a topic opens in the viewer with its retained value and its last messages.

import { apiGet, describeError } from '../api.js';
import { PAGE_SIZE } from '../config.js';
import { latestOnly, panelSection, searchField } from '../controls.js';
import { element, replaceChildren } from '../dom.js';
import { formatCount, formatRelative, formatTime } from '../format.js';
import { clearError, reportError } from '../notices.js';
import { createOffsetPager } from '../pager.js';
import { codeCell, renderTable } from '../table.js';
import { openViewer, showViewerError } from '../viewer.js';

const TOPICS_ERROR_SOURCE = 'pubsub-topics';
const SUBSCRIPTIONS_ERROR_SOURCE = 'pubsub-subscriptions';

export function createPubSubTab() {
  let search = '';
  let topicsOffset = 0;
  let subscriptionsOffset = 0;
  let selectedTopic = null;
  let topics = [];
  const topicsHolder = element('div', { class: 'table-holder' });
  const subscriptionsHolder = element('div', { class: 'table-holder' });
  const fetchTopics = latestOnly((params) => apiGet('pubsub/topics', params));
  const fetchSubscriptions = latestOnly((params) => apiGet('pubsub/subscriptions', params));
  const topicsPager = createOffsetPager({
    testid: 'topics-pager',
    pageSize: PAGE_SIZE,
    onChange: (offset) => loadTopics(offset),
  });
  const subscriptionsPager = createOffsetPager({
    testid: 'subscriptions-pager',
    pageSize: PAGE_SIZE,
    onChange: (offset) => loadSubscriptions(offset),
  });
  const topicSearch = searchField({
    id: 'topic-search',
    label: 'Topic contains',
    placeholder: 'orders/',
    testid: 'topic-search',
    onSearch: (text) => {
      search = text;
      return loadTopics(0);
    },
  });

  async function loadTopics(offset) {
    try {
      const page = await fetchTopics({ search, offset, limit: PAGE_SIZE });
      if (page === undefined) return;
      clearError(TOPICS_ERROR_SOURCE);
      topicsOffset = offset;
      topics = page.topics;
      renderTopics();
      topicsPager.update(offset, page.topics.length, page.total);
    } catch (error) {
      reportError(TOPICS_ERROR_SOURCE, error);
    }
  }

  function renderTopics() {
    replaceChildren(
      topicsHolder,
      renderTable({
        testid: 'topics-table',
        rowTestid: 'topic-row',
        rowName: (topic) => topic.topic,
        selectedName: selectedTopic,
        onSelect: (topic) => showTopic(topic.topic),
        emptyText:
          search === '' ? 'No topic was published to since the server started.' : `No topic contains “${search}”.`,
        rows: topics,
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
    );
  }

  async function loadSubscriptions(offset) {
    try {
      const page = await fetchSubscriptions({ offset, limit: PAGE_SIZE });
      if (page === undefined) return;
      clearError(SUBSCRIPTIONS_ERROR_SOURCE);
      subscriptionsOffset = offset;
      replaceChildren(
        subscriptionsHolder,
        renderTable({
          testid: 'subscriptions-table',
          rowTestid: 'subscription-row',
          rowName: (entry) => entry.filter,
          emptyText: 'No connection is subscribed.',
          rows: page.filters,
          columns: [
            { label: 'Filter', cell: (entry) => codeCell(entry.filter) },
            { label: 'Subscribers', cell: (entry) => formatCount(entry.subscribers), numeric: true },
          ],
        }),
      );
      subscriptionsPager.update(offset, page.filters.length, page.total);
    } catch (error) {
      reportError(SUBSCRIPTIONS_ERROR_SOURCE, error);
    }
  }

  async function showTopic(topic) {
    selectedTopic = topic;
    renderTopics();
    try {
      const answer = await apiGet('pubsub/topic', { topic });
      openViewer({
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
      });
    } catch (error) {
      showViewerError(`Topic ${topic}`, describeError(error));
    }
  }

  const totals = element('dl', { class: 'engine-counts', testid: 'pubsub-totals' });

  /** The server-wide message counts, from each overview poll. */
  function renderTotals(pubsub) {
    const figures = [
      ['Published', pubsub.published],
      ['Delivered', pubsub.delivered],
      ['Dropped for slow subscribers', pubsub.dropped],
      ['Slow subscribers disconnected', pubsub.evicted],
      ['Retained messages', pubsub.retained],
    ];
    replaceChildren(
      totals,
      figures.map(([label, value]) =>
        element('div', {}, [element('dt', {}, label), element('dd', {}, formatCount(value))]),
      ),
    );
  }

  const panel = element('div', { class: 'stack' }, [
    panelSection({
      heading: 'Messages since start',
      testid: 'pubsub-messages',
      content: [totals],
    }),
    panelSection({
      heading: 'Topics',
      testid: 'pubsub-topics',
      tools: [topicSearch.form],
      content: [topicsHolder, topicsPager.element],
    }),
    panelSection({
      heading: 'Subscriptions',
      testid: 'pubsub-subscriptions',
      content: [subscriptionsHolder, subscriptionsPager.element],
    }),
  ]);

  return {
    panel,
    show() {
      return Promise.all([loadTopics(topicsOffset), loadSubscriptions(subscriptionsOffset)]);
    },
    overview(overview) {
      renderTotals(overview.pubsub);
    },
  };
}

function lastPublished(at) {
  if (at === null || at === undefined) return '—';
  return element('span', { class: 'nowrap', title: formatTime(at) }, formatRelative(at));
}
