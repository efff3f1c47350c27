// Queues tab: the queues with their counts per state, searchable and paged; a selected queue shows its messages
// of one state at a time (paged), opens a message in the viewer, and offers purge and dead-letter retries.

import { apiGet, apiPost } from '../api.js';
import { actionButton } from '../actions.js';
import { panelSection } from '../controls.js';
import { element, replaceChildren } from '../dom.js';
import { formatCount, formatRelative, formatTime } from '../format.js';
import { createOffsetList } from '../list.js';
import { summarizePreview } from '../preview.js';
import { codeCell } from '../table.js';
import { closeViewer, openViewerFor } from '../viewer.js';

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
  let selected = null; // { name, counts: queue row or null, state }
  const detailHolder = element('div', { class: 'queue-detail-holder' });
  const queueList = createOffsetList({
    endpoint: 'queues',
    rowsField: 'queues',
    errorSource: QUEUES_ERROR_SOURCE,
    pagerTestid: 'queues-pager',
    search: { id: 'queue-search', label: 'Queue name contains', placeholder: 'emails', testid: 'queue-search' },
    table: (page, search) => ({
      testid: 'queues-table',
      rowTestid: 'queue-row',
      rowName: (queue) => queue.name,
      selectedName: selected?.name ?? null,
      onSelect: (queue) => selectQueue(queue),
      emptyText: search === '' ? 'No queues.' : `No queue name contains “${search}”.`,
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
    onLoad: (page) => {
      if (selected !== null)
        selected.counts = page.queues.find((queue) => queue.name === selected.name) ?? selected.counts;
      renderDetail();
    },
  });
  const messageList = createOffsetList({
    endpoint: 'queues/messages',
    rowsField: 'messages',
    errorSource: MESSAGES_ERROR_SOURCE,
    pagerTestid: 'messages-pager',
    query: () => (selected === null ? null : { queue: selected.name, state: selected.state }),
    table: (page) => ({
      testid: 'messages-table',
      rowTestid: 'message-row',
      rowName: (message) => message.id,
      onSelect: (message) => showMessage(page.queue, message.id),
      emptyText: `No ${stateLabel(page.state).toLowerCase()} messages.`,
      columns: messageColumns(page.queue, page.state),
    }),
  });

  function selectQueue(queue) {
    selected = {
      name: queue.name,
      counts: queue,
      state: queue.dead > 0 && queue.ready === 0 ? 'dead' : 'ready',
    };
    queueList.render();
    renderDetail();
    return messageList.startOver();
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
          ...messageList.content,
        ],
      }),
    );
  }

  function selectState(state) {
    selected.state = state;
    renderDetail();
    messageList.showLoading();
    return messageList.load(0);
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

  function showMessage(queue, id) {
    return openViewerFor({
      heading: `Message ${id} of ${queue}`,
      load: () => apiGet('queues/message', { queue, id }),
      describe: (message) => messageView(queue, message),
    });
  }

  /** The viewer's content for a message: its facts, its payload, and "Retry" when it is dead. */
  function messageView(queue, message) {
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
    return {
      heading: `Message ${message.id} of ${queue}`,
      facts,
      sections: [{ heading: 'Payload', preview: message.payload }],
      actions: message.state === 'dead' ? [retryOneButton(queue, message.id, 'retry-dead-message', false)] : [],
    };
  }

  function reloadLists() {
    return Promise.all([queueList.reload(), messageList.reload()]);
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
      after: reloadLists,
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
      after: reloadLists,
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
        await reloadLists();
      },
    });
  }

  const panel = element('div', { class: 'stack' }, [
    queueList.section({ heading: 'Queues', testid: 'queues-list' }),
    detailHolder,
  ]);

  return {
    panel,
    show: reloadLists,
  };
}

function stateLabel(messageState) {
  return MESSAGE_STATES.find(({ state }) => state === messageState).label;
}

function countCell(count, state) {
  const alarming = state === 'dead' && count > 0;
  return element('span', { class: alarming ? 'count-alarm' : null }, formatCount(count));
}

function timeCell(at) {
  if (at === null || at === undefined) return '—';
  return element('span', { class: 'nowrap', title: formatTime(at) }, formatRelative(at));
}
