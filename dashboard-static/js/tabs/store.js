// Store tab: scans the keys matching a glob pattern one page at a time (cursor paging: the page never asks for
// every key), shows a key's value in the viewer, and deletes a key.

import { apiGet, apiPost } from '../api.js';
import { actionButton } from '../actions.js';
import { element } from '../dom.js';
import { formatBytes, formatTtl } from '../format.js';
import { createCursorList } from '../list.js';
import { codeCell } from '../table.js';
import { closeViewer, openViewerFor } from '../viewer.js';

/**
 * A scan page may hold no key while more remain (the scan visits the shards one after another); the page follows
 * the cursor at most this many more times to find keys before showing an empty page with "Next" enabled.
 */
const EMPTY_PAGES_FOLLOWED_AT_MOST = 8;
/** Source name of this tab's errors in the notices. */
const ERROR_SOURCE = 'store';

export function createStoreTab() {
  let selectedKey = null;
  const keyList = createCursorList({
    fetchPage: scanKeys,
    rowsField: 'keys',
    errorSource: ERROR_SOURCE,
    markBusy: true,
    pager: { testid: 'store-pager' },
    nextPosition: (page) => (page.cursor === null ? null : { cursor: page.cursor }),
    search: {
      id: 'store-pattern',
      label: 'Key pattern (glob)',
      placeholder: 'user:*',
      testid: 'store-pattern',
      param: 'pattern',
    },
    table: (page, pattern) => ({
      testid: 'store-table',
      rowTestid: 'store-row',
      rowName: (entry) => entry.key,
      selectedName: selectedKey,
      onSelect: (entry) => showKey(entry.key),
      emptyText: pattern === '' ? 'No keys on this page.' : `No keys matching ${pattern} on this page.`,
      columns: [
        { label: 'Key', cell: (entry) => codeCell(entry.key) },
        { label: 'Type', cell: (entry) => element('span', { class: 'badge' }, entry.contentType) },
        { label: 'Size', cell: (entry) => formatBytes(entry.size), numeric: true },
        { label: 'TTL', cell: (entry) => formatTtl(entry.ttlMs), numeric: true },
      ],
    }),
  });

  function showKey(key) {
    selectedKey = key;
    keyList.render();
    return openViewerFor({
      heading: `Key ${key}`,
      load: () => apiGet('store/key', { key }),
      describe: (answer) => ({
        heading: `Key ${answer.key}`,
        facts: [
          ['Key', answer.key],
          ['TTL', formatTtl(answer.ttlMs)],
        ],
        sections: [{ heading: 'Value', preview: answer.value }],
        actions: [deleteKeyButton(answer.key)],
      }),
    });
  }

  function deleteKeyButton(key) {
    return actionButton({
      label: 'Delete key',
      testid: 'delete-key',
      confirm: {
        heading: 'Delete key',
        message: `Delete the key “${key}” and its value? This cannot be undone.`,
        confirmLabel: 'Delete key',
      },
      dangerous: true,
      perform: () => apiPost('store/delete', { key }),
      describe: (answer) => (answer.deleted ? `Deleted key ${key}.` : `There was no key ${key}.`),
      after: async () => {
        selectedKey = null;
        closeViewer();
        await keyList.reload();
      },
    });
  }

  let loadedOnce = false;
  return {
    panel: element('div', {}, [keyList.section({ heading: 'Keys', testid: 'store-keys' })]),
    show() {
      if (loadedOnce) return keyList.reload();
      loadedOnce = true;
      return keyList.restart();
    },
  };
}

/** One page of the key scan from `params`, following the cursor past empty pages (see EMPTY_PAGES_FOLLOWED_AT_MOST). */
async function scanKeys(params) {
  let answer = await apiGet('store/keys', params);
  for (
    let followed = 0;
    answer.keys.length === 0 && answer.cursor !== null && followed < EMPTY_PAGES_FOLLOWED_AT_MOST;
    followed += 1
  ) {
    answer = await apiGet('store/keys', { ...params, cursor: answer.cursor });
  }
  return answer;
}
