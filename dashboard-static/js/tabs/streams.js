// Streams tab: the streams with their offsets and sizes, searchable and paged; a selected stream shows its
// consumer groups (with "Seek group") and reads its records from an offset or a time, page by page, each record
// opening in the viewer. "Delete stream" removes the stream.

import { apiGet, apiPost } from '../api.js';
import { actionButton } from '../actions.js';
import { panelSection } from '../controls.js';
import { element, replaceChildren } from '../dom.js';
import { formatBytes, formatCount, formatRelative, formatTime, parseLocalDateTime } from '../format.js';
import { createCursorList, createOffsetList, loadingNote } from '../list.js';
import { clearError, reportError } from '../notices.js';
import { summarizePreview } from '../preview.js';
import { codeCell, renderTable } from '../table.js';
import { closeViewer, openViewer } from '../viewer.js';
import { seekFields } from './seek.js';

const STREAMS_ERROR_SOURCE = 'streams';
const GROUPS_ERROR_SOURCE = 'stream-groups';
const RECORDS_ERROR_SOURCE = 'stream-records';

export function createStreamsTab() {
  let selectedName = null;
  const detailHolder = element('div');
  const groupsHolder = element('div', { class: 'table-holder' });
  const streamList = createOffsetList({
    endpoint: 'streams',
    rowsField: 'streams',
    errorSource: STREAMS_ERROR_SOURCE,
    pagerTestid: 'streams-pager',
    search: { id: 'stream-search', label: 'Stream name contains', placeholder: 'events', testid: 'stream-search' },
    table: (page, search) => ({
      testid: 'streams-table',
      rowTestid: 'stream-row',
      rowName: (stream) => stream.name,
      selectedName,
      onSelect: (stream) => selectStream(stream.name),
      emptyText: search === '' ? 'No streams.' : `No stream name contains “${search}”.`,
      columns: [
        { label: 'Stream', cell: (stream) => codeCell(stream.name) },
        { label: 'First offset', cell: (stream) => formatCount(stream.firstOffset), numeric: true },
        { label: 'Next offset', cell: (stream) => formatCount(stream.nextOffset), numeric: true },
        { label: 'Records', cell: (stream) => formatCount(stream.records), numeric: true },
        { label: 'Bytes', cell: (stream) => formatBytes(stream.bytes), numeric: true },
        { label: 'Segments', cell: (stream) => formatCount(stream.segments), numeric: true },
        { label: 'Groups', cell: (stream) => formatCount(stream.groups), numeric: true },
      ],
    }),
  });
  /** The selected stream's records from a position ({ from } or { time }), a page at a time. */
  const recordList = createCursorList({
    endpoint: 'streams/records',
    rowsField: 'records',
    errorSource: RECORDS_ERROR_SOURCE,
    pager: { testid: 'records-pager', pageLabel: 'Records page' },
    query: () => (selectedName === null ? null : { stream: selectedName }),
    nextPosition: (page) => (page.next === null ? null : { from: page.next }),
    table: (page) => ({
      testid: 'records-table',
      rowTestid: 'record-row',
      rowName: (record) => record.offset,
      onSelect: (record) => showRecord(page.stream, record),
      emptyText: 'No records from there on.',
      columns: [
        { label: 'Offset', cell: (record) => String(record.offset), numeric: true },
        {
          label: 'Written',
          cell: (record) =>
            element('span', { class: 'nowrap', title: formatRelative(record.timestamp) }, formatTime(record.timestamp)),
        },
        { label: 'Size', cell: (record) => formatBytes(record.value.size), numeric: true },
        { label: 'Value', cell: (record) => codeCell(summarizePreview(record.value)) },
      ],
    }),
  });
  const recordsForm = createRecordsForm(() => recordList.restart(recordsForm.startPosition()));

  function selectStream(name) {
    selectedName = name;
    streamList.render();
    replaceChildren(detailHolder, [
      panelSection({
        heading: `Stream ${name}`,
        testid: 'stream-detail',
        tools: [deleteStreamButton(name)],
        content: [
          element('h3', {}, 'Consumer groups'),
          groupsHolder,
          element('h3', {}, 'Records'),
          recordsForm.element,
          ...recordList.content,
        ],
      }),
    ]);
    recordsForm.reset();
    replaceChildren(groupsHolder, loadingNote());
    recordList.showLoading();
    return Promise.all([loadGroups(), recordList.restart(recordsForm.startPosition())]);
  }

  async function loadGroups() {
    if (selectedName === null) return;
    const stream = selectedName;
    try {
      const answer = await apiGet('streams/groups', { stream });
      clearError(GROUPS_ERROR_SOURCE);
      replaceChildren(
        groupsHolder,
        renderTable({
          testid: 'groups-table',
          rowTestid: 'group-row',
          rowName: (group) => group.group,
          emptyText: 'No consumer groups.',
          rows: answer.groups,
          columns: [
            { label: 'Group', cell: (group) => codeCell(group.group) },
            { label: 'Committed', cell: (group) => formatCount(group.committed), numeric: true },
            { label: 'Lag', cell: (group) => formatCount(group.lag), numeric: true },
            { label: 'Pending', cell: (group) => formatCount(group.pending), numeric: true },
            { label: 'Redelivering', cell: (group) => formatCount(group.redelivering), numeric: true },
            { label: 'Dead', cell: (group) => formatCount(group.dead), numeric: true },
            { label: '', cell: (group) => seekButton(stream, group.group) },
          ],
        }),
      );
    } catch (error) {
      reportError(GROUPS_ERROR_SOURCE, error);
    }
  }

  /** Opens a listed record in the viewer with the longer preview of the single-record endpoint. */
  async function showRecord(stream, listed) {
    try {
      const record = await apiGet('streams/record', { stream, offset: listed.offset });
      openViewer({
        heading: `Record ${record.offset} of ${stream}`,
        facts: [
          ['Stream', stream],
          ['Offset', String(record.offset)],
          ['Written', `${formatTime(record.timestamp)} (${formatRelative(record.timestamp)})`],
        ],
        sections: [{ heading: 'Value', preview: record.value }],
      });
    } catch (error) {
      reportError(RECORDS_ERROR_SOURCE, error);
    }
  }

  function deleteStreamButton(stream) {
    return actionButton({
      label: 'Delete stream',
      testid: 'delete-stream',
      confirm: {
        heading: 'Delete stream',
        message: `Delete the stream “${stream}” with all its records and consumer groups? This cannot be undone.`,
        confirmLabel: 'Delete stream',
      },
      dangerous: true,
      perform: () => apiPost('streams/delete', { stream }),
      describe: (answer) => (answer.deleted ? `Deleted stream ${stream}.` : `There was no stream ${stream}.`),
      after: async () => {
        selectedName = null;
        replaceChildren(detailHolder, []);
        closeViewer();
        await streamList.reload();
      },
    });
  }

  function seekButton(stream, group) {
    let fields = null;
    return actionButton({
      label: 'Seek',
      testid: 'seek-group',
      small: true,
      confirm: () => {
        fields = seekFields();
        return {
          heading: 'Seek group',
          message: `Move the position of group “${group}” on “${stream}”. Its members continue from there.`,
          fields: fields.element,
          confirmLabel: 'Seek group',
        };
      },
      perform: () => apiPost('streams/seek', { stream, group, ...fields.target() }),
      describe: (answer) => `Group ${group} of ${stream} now continues from offset ${formatCount(answer.committed)}.`,
      after: () => Promise.all([loadGroups(), streamList.reload()]),
    });
  }

  const panel = element('div', { class: 'stack' }, [
    streamList.section({ heading: 'Streams', testid: 'streams-list' }),
    detailHolder,
  ]);

  return {
    panel,
    show() {
      if (selectedName === null) return streamList.reload();
      return Promise.all([streamList.reload(), loadGroups(), recordList.reload()]);
    },
  };
}

/** The "read from" form of the records list: an offset or a local date and time. `onRead` runs on submit. */
function createRecordsForm(onRead) {
  const byOffset = element('input', {
    type: 'radio',
    name: 'records-mode',
    id: 'records-mode-offset',
    value: 'offset',
    checked: true,
    testid: 'records-mode-offset',
  });
  const byTime = element('input', {
    type: 'radio',
    name: 'records-mode',
    id: 'records-mode-time',
    value: 'time',
    testid: 'records-mode-time',
  });
  const fromInput = element('input', {
    type: 'number',
    id: 'records-from',
    min: 0,
    step: 1,
    value: 0,
    testid: 'records-from',
  });
  const timeInput = element('input', { type: 'datetime-local', id: 'records-time', step: 1, testid: 'records-time' });
  fromInput.addEventListener('focus', () => (byOffset.checked = true));
  timeInput.addEventListener('focus', () => (byTime.checked = true));
  const form = element(
    'form',
    {
      class: 'records-form',
      testid: 'records-form',
      onsubmit: (event) => {
        event.preventDefault();
        onRead();
      },
    },
    [
      element('fieldset', {}, [
        element('legend', {}, 'Read from'),
        element('span', { class: 'choice' }, [byOffset, element('label', { for: 'records-mode-offset' }, 'Offset')]),
        fromInput,
        element('span', { class: 'choice' }, [byTime, element('label', { for: 'records-mode-time' }, 'Time')]),
        timeInput,
        element('button', { type: 'submit', testid: 'records-read' }, 'Read'),
      ]),
    ],
  );
  return {
    element: form,
    reset() {
      byOffset.checked = true;
      fromInput.value = '0';
      timeInput.value = '';
    },
    /** The records query of the form: `{ from }` or `{ time }` (ms). */
    startPosition() {
      const time = parseLocalDateTime(timeInput.value);
      if (byTime.checked && time !== null) return { time };
      return { from: Math.max(0, Number.parseInt(fromInput.value, 10) || 0) };
    },
  };
}
