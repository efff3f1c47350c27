// Store tab: scans the keys matching a glob pattern one page at a time (cursor paging: the page never asks for
// every key), shows a key's value in the viewer, and deletes a key.

import { apiGet, apiPost, describeError } from '../api.js';
import { actionButton } from '../actions.js';
import { PAGE_SIZE } from '../config.js';
import { latestOnly, panelSection, searchField } from '../controls.js';
import { element, replaceChildren } from '../dom.js';
import { formatBytes, formatTtl } from '../format.js';
import { clearError, reportError } from '../notices.js';
import { createCursorPager } from '../pager.js';
import { codeCell, renderTable } from '../table.js';
import { closeViewer, openViewer, showViewerError } from '../viewer.js';

/**
 * A scan page may hold no key while more remain (the scan visits the shards one after another); the page follows
 * the cursor at most this many more times to find keys before showing an empty page with "Next" enabled.
 */
const EMPTY_PAGES_FOLLOWED_AT_MOST = 8;
/** Source name of this tab's errors in the notices. */
const ERROR_SOURCE = 'store';

export function createStoreTab() {
  let pattern = '';
  let keys = [];
  let selectedKey = null;
  const tableHolder = element('div', { class: 'table-holder' });
  const scanPage = latestOnly(fetchPage);
  const pager = createCursorPager({ testid: 'store-pager', load: loadPage });
  const search = searchField({
    id: 'store-pattern',
    label: 'Key pattern (glob)',
    placeholder: 'user:*',
    testid: 'store-pattern',
    onSearch: (text) => {
      pattern = text;
      return pager.restart(null);
    },
  });
  const panel = panelSection({
    heading: 'Keys',
    testid: 'store-keys',
    tools: [search.form],
    content: [tableHolder, pager.element],
  });

  /** Loads the page starting at `cursor`; resolves with the cursor of the next page, or undefined on failure. */
  async function loadPage(cursor) {
    tableHolder.setAttribute('aria-busy', 'true');
    try {
      const page = await scanPage(cursor);
      if (page === undefined) return undefined;
      clearError(ERROR_SOURCE);
      keys = page.keys;
      renderKeys();
      return page.cursor;
    } catch (error) {
      reportError(ERROR_SOURCE, error);
      return undefined;
    } finally {
      tableHolder.removeAttribute('aria-busy');
    }
  }

  async function fetchPage(cursor) {
    let answer = await apiGet('store/keys', { pattern, cursor, limit: PAGE_SIZE });
    for (
      let followed = 0;
      answer.keys.length === 0 && answer.cursor !== null && followed < EMPTY_PAGES_FOLLOWED_AT_MOST;
      followed += 1
    ) {
      answer = await apiGet('store/keys', { pattern, cursor: answer.cursor, limit: PAGE_SIZE });
    }
    return answer;
  }

  function renderKeys() {
    replaceChildren(
      tableHolder,
      renderTable({
        testid: 'store-table',
        rowTestid: 'store-row',
        rowName: (entry) => entry.key,
        selectedName: selectedKey,
        onSelect: (entry) => showKey(entry.key),
        emptyText: pattern === '' ? 'No keys on this page.' : `No keys matching ${pattern} on this page.`,
        rows: keys,
        columns: [
          { label: 'Key', cell: (entry) => codeCell(entry.key) },
          { label: 'Type', cell: (entry) => element('span', { class: 'badge' }, entry.contentType) },
          { label: 'Size', cell: (entry) => formatBytes(entry.size), numeric: true },
          { label: 'TTL', cell: (entry) => formatTtl(entry.ttlMs), numeric: true },
        ],
      }),
    );
  }

  async function showKey(key) {
    selectedKey = key;
    renderKeys();
    try {
      const answer = await apiGet('store/key', { key });
      openViewer({
        heading: `Key ${answer.key}`,
        facts: [
          ['Key', answer.key],
          ['TTL', formatTtl(answer.ttlMs)],
        ],
        sections: [{ heading: 'Value', preview: answer.value }],
        actions: [deleteKeyButton(answer.key)],
      });
    } catch (error) {
      showViewerError(`Key ${key}`, describeError(error));
    }
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
        await pager.reload();
      },
    });
  }

  let loadedOnce = false;
  return {
    panel: element('div', {}, [panel]),
    show() {
      if (loadedOnce) return pager.reload();
      loadedOnce = true;
      return pager.restart(null);
    },
  };
}
