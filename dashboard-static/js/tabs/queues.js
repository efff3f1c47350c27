// Queues tab: the queues with their counts per state, searchable and paged; a selected queue shows its messages
// of one state at a time (paged), opens a message in the viewer, and offers purge and dead-letter retries.

import { apiGet, apiPost, describeError } from '../api.js';
import { actionButton } from '../actions.js';
import { PAGE_SIZE } from '../config.js';
import { latestOnly, panelSection, searchField } from '../controls.js';
import { element, replaceChildren } from '../dom.js';
import { formatCount, formatRelative, formatTime } from '../format.js';
import { clearError, reportError } from '../notices.js';
import { createOffsetPager } from '../pager.js';
import { summarizePreview } from '../preview.js';
import { codeCell, renderTable } from '../table.js';
import { closeViewer, openViewer, showViewerError } from '../viewer.js';

/** The message states, in the order of the state selector, with their labels and counts' field in a queue row. */
const MESSAGE_STATES = [
  { state: 'ready', label: 'Ready' },
  { state: 'delayed', label: 'Delayed' },
  { state: 'inFlight', label: 'In flight' },
  { state: 'dead', label: 'Dead' },
];
const QUEUES_ERROR_SOURCE = 'queues';
const MESSAGES_ERROR_SOURCE = 'queue-messages';

export function createQueuesTab() {
  let search = '';
  let queuesOffset = 0;
  let queues = [];
  let selected = null; // { name, counts: queue row or null, state, offset }
  const queuesHolder = element('div', { class: 'table-holder' });
  const detailHolder = element('div', { class: 'queue-detail-holder' });
  const messagesHolder = element('div', { class: 'table-holder' });
  const fetchQueues = latestOnly((params) => apiGet('queues', params));
  const fetchMessages = latestOnly((params) => apiGet('queues/messages', params));
  const queuesPager = createOffsetPager({
    testid: 'queues-pager',
    pageSize: PAGE_SIZE,
    onChange: (offset) => loadQueues(offset),
  });
  const messagesPager = createOffsetPager({
    testid: 'messages-pager',
    pageSize: PAGE_SIZE,
    onChange: (offset) => loadMessages(offset),
  });
  const queueSearch = searchField({
    id: 'queue-search',
    label: 'Queue name contains',
    placeholder: 'emails',
    testid: 'queue-search',
    onSearch: (text) => {
      search = text;
      return loadQueues(0);
    },
  });

  async function loadQueues(offset) {
    try {
      const page = await fetchQueues({ search, offset, limit: PAGE_SIZE });
      if (page === undefined) return;
      clearError(QUEUES_ERROR_SOURCE);
      queuesOffset = offset;
      queues = page.queues;
      if (selected !== null) selected.counts = queues.find((queue) => queue.name === selected.name) ?? selected.counts;
      renderQueues();
      queuesPager.update(offset, queues.length, page.total);
      renderDetail();
    } catch (error) {
      reportError(QUEUES_ERROR_SOURCE, error);
    }
  }

  function renderQueues() {
    replaceChildren(
      queuesHolder,
      renderTable({
        testid: 'queues-table',
        rowTestid: 'queue-row',
        rowName: (queue) => queue.name,
        selectedName: selected?.name ?? null,
        onSelect: (queue) => selectQueue(queue),
        emptyText: search === '' ? 'No queues.' : `No queue name contains “${search}”.`,
        rows: queues,
        columns: [
          { label: 'Queue', cell: (queue) => codeCell(queue.name) },
          ...MESSAGE_STATES.map(({ state, label }) => ({
            label,
            cell: (queue) => countCell(queue[state], state),
            numeric: true,
          })),
          { label: 'Consumers', cell: (queue) => formatCount(queue.consumers), numeric: true },
        ],
      }),
    );
  }

  function selectQueue(queue) {
    selected = {
      name: queue.name,
      counts: queue,
      state: queue.dead > 0 && queue.ready === 0 ? 'dead' : 'ready',
      offset: 0,
    };
    renderQueues();
    renderDetail();
    replaceChildren(messagesHolder, loadingNote());
    return loadMessages(0);
  }

  function renderDetail() {
    if (selected === null) {
      replaceChildren(detailHolder, []);
      return;
    }
    const { name, counts } = selected;
    const stateButtons = MESSAGE_STATES.map(({ state, label }) =>
      element(
        'button',
        {
          type: 'button',
          class: 'segment',
          testid: `queue-state-${state}`,
          'aria-pressed': String(selected.state === state),
          onclick: () => selectState(state),
        },
        counts === null ? label : `${label} (${formatCount(counts[state])})`,
      ),
    );
    replaceChildren(
      detailHolder,
      panelSection({
        heading: `Queue ${name}`,
        testid: 'queue-detail',
        tools: [purgeButton(name), retryAllButton(name)],
        content: [
          element('div', { class: 'segments', role: 'group', 'aria-label': 'Message state' }, stateButtons),
          messagesHolder,
          messagesPager.element,
        ],
      }),
    );
  }

  function selectState(state) {
    selected.state = state;
    renderDetail();
    replaceChildren(messagesHolder, loadingNote());
    return loadMessages(0);
  }

  async function loadMessages(offset) {
    if (selected === null) return;
    const { name, state } = selected;
    try {
      const page = await fetchMessages({ queue: name, state, offset, limit: PAGE_SIZE });
      if (page === undefined) return;
      clearError(MESSAGES_ERROR_SOURCE);
      selected.offset = offset;
      renderMessages(page);
      messagesPager.update(offset, page.messages.length, page.total);
    } catch (error) {
      reportError(MESSAGES_ERROR_SOURCE, error);
    }
  }

  function renderMessages(page) {
    const stateLabel = MESSAGE_STATES.find(({ state }) => state === page.state).label.toLowerCase();
    replaceChildren(
      messagesHolder,
      renderTable({
        testid: 'messages-table',
        rowTestid: 'message-row',
        rowName: (message) => message.id,
        onSelect: (message) => showMessage(page.queue, message.id),
        emptyText: `No ${stateLabel} messages.`,
        rows: page.messages,
        columns: messageColumns(page.queue, page.state),
      }),
    );
  }

  function messageColumns(queue, state) {
    const columns = [
      { label: 'ID', cell: (message) => String(message.id), numeric: true },
      { label: 'Priority', cell: (message) => String(message.priority), numeric: true },
      { label: 'Attempts', cell: (message) => String(message.attempts), numeric: true },
    ];
    if (state === 'delayed') columns.push({ label: 'Ready at', cell: (message) => timeCell(message.availableAt) });
    if (state === 'inFlight') columns.push({ label: 'Lease ends', cell: (message) => timeCell(message.leaseDeadline) });
    if (state === 'dead') {
      columns.push({
        label: 'Failure reason',
        cell: (message) =>
          element('span', { class: 'failure', testid: 'failure-reason' }, message.failureReason ?? '—'),
      });
      columns.push({ label: 'Failed', cell: (message) => timeCell(message.failedAt) });
    }
    columns.push({ label: 'Payload', cell: (message) => codeCell(summarizePreview(message.payload)) });
    if (state === 'dead')
      columns.push({ label: '', cell: (message) => retryOneButton(queue, message.id, 'retry-dead-row', true) });
    return columns;
  }

  async function showMessage(queue, id) {
    try {
      const message = await apiGet('queues/message', { queue, id });
      const facts = [
        ['Queue', queue],
        ['ID', String(message.id)],
        ['State', message.state],
        ['Priority', String(message.priority)],
        ['Attempts', String(message.attempts)],
      ];
      if (message.availableAt !== null) facts.push(['Ready at', formatTime(message.availableAt)]);
      if (message.leaseDeadline !== null) facts.push(['Lease ends', formatTime(message.leaseDeadline)]);
      if (message.failureReason !== null) facts.push(['Failure reason', message.failureReason]);
      if (message.failedAt !== null) facts.push(['Failed at', formatTime(message.failedAt)]);
      openViewer({
        heading: `Message ${message.id} of ${queue}`,
        facts,
        sections: [{ heading: 'Payload', preview: message.payload }],
        actions: message.state === 'dead' ? [retryOneButton(queue, message.id, 'retry-dead-message', false)] : [],
      });
    } catch (error) {
      showViewerError(`Message ${id} of ${queue}`, describeError(error));
    }
  }

  function refreshAfterAction() {
    return Promise.all([loadQueues(queuesOffset), loadMessages(selected?.offset ?? 0)]);
  }

  function purgeButton(queue) {
    return actionButton({
      label: 'Purge queue',
      testid: 'purge-queue',
      confirm: {
        heading: 'Purge queue',
        message: `Remove every ready and delayed message of “${queue}”? In-flight messages stay with their consumers and the dead-letter queue is kept.`,
        confirmLabel: 'Purge queue',
      },
      dangerous: true,
      perform: () => apiPost('queues/purge', { queue }),
      describe: (answer) => `Purged ${formatCount(answer.purged)} messages from ${queue}.`,
      after: refreshAfterAction,
    });
  }

  function retryAllButton(queue) {
    return actionButton({
      label: 'Retry all dead messages',
      testid: 'retry-all-dead',
      confirm: {
        heading: 'Retry all dead messages',
        message: `Move every dead-lettered message of “${queue}” back to the queue, with its attempts reset?`,
        confirmLabel: 'Retry all',
      },
      perform: () => apiPost('queues/dead/retry', { queue }),
      describe: (answer) => `Moved ${formatCount(answer.moved)} dead messages back to ${queue}.`,
      after: refreshAfterAction,
    });
  }

  function retryOneButton(queue, id, testid, small) {
    return actionButton({
      label: small ? 'Retry' : 'Retry dead message',
      testid,
      small,
      confirm: {
        heading: 'Retry dead message',
        message: `Move dead message ${id} back to “${queue}”, with its attempts reset?`,
        confirmLabel: 'Retry message',
      },
      perform: () => apiPost('queues/dead/retry', { queue, id }),
      describe: (answer) => `Moved ${formatCount(answer.moved)} dead message back to ${queue}.`,
      after: async () => {
        closeViewer();
        await refreshAfterAction();
      },
    });
  }

  const panel = element('div', { class: 'stack' }, [
    panelSection({
      heading: 'Queues',
      testid: 'queues-list',
      tools: [queueSearch.form],
      content: [queuesHolder, queuesPager.element],
    }),
    detailHolder,
  ]);

  return {
    panel,
    show() {
      return Promise.all([loadQueues(queuesOffset), loadMessages(selected?.offset ?? 0)]);
    },
  };
}

function loadingNote() {
  return element('p', { class: 'muted' }, 'Loading…');
}

function countCell(count, state) {
  const alarming = state === 'dead' && count > 0;
  return element('span', { class: alarming ? 'count-alarm' : null }, formatCount(count));
}

function timeCell(at) {
  if (at === null || at === undefined) return '—';
  return element('span', { class: 'nowrap', title: formatTime(at) }, formatRelative(at));
}
