// The server lists the tabs show: one page of rows as a table, with its pager and, for some, a search field.
// A list owns its requests (only the latest one's answer is shown), its error in the notices (a shown page clears
// it, a failed request reports it), the last page shown (drawn again when the selection changes) and the search
// text sent with every request. The tab says what is its own: the endpoint, the field holding the rows, the
// request's other parameters, the table's columns and what selecting a row does.

import { apiGet } from './api.js';
import { PAGE_SIZE } from './config.js';
import { latestOnly, panelSection, searchField } from './controls.js';
import { element, replaceChildren } from './dom.js';
import { clearError, reportError } from './notices.js';
import { createCursorPager, createOffsetPager } from './pager.js';
import { renderTable } from './table.js';

/** The query parameter a search field's text is sent as, unless the list names another. */
const DEFAULT_SEARCH_PARAM = 'search';

/** What a list's table shows while its first page, or the page of a new selection, is on its way. */
export function loadingNote() {
  return element('p', { class: 'muted' }, 'Loading…');
}

/**
 * A list paged by offset (`offset`, `limit`, `total`). Takes the options of every list (see `createListCore`)
 * and `pagerTestid`, the pager's test id; `onLoad(page)` runs after each page is shown.
 * Returns:
 * - `content`: the table holder and the pager, to put in a section of the tab's own;
 * - `section({ heading, testid })`: a panel section of its own holding `content`, the search form beside the heading;
 * - `load(offset)`: fetches and shows the page at `offset`; `reload()`: the page shown last;
 * - `render()`: draws the page shown last again (after the selection changed);
 * - `showLoading()`: the loading note in place of the table;
 * - `startOver()`: the loading note, then the first page; `reload` asks for the first page until a page is shown.
 */
export function createOffsetList({ pagerTestid, onLoad = () => {}, ...options }) {
  let shownOffset = 0;
  const list = createListCore(options, () => load(0));
  const pager = createOffsetPager({ testid: pagerTestid, pageSize: PAGE_SIZE, onChange: (offset) => load(offset) });

  async function load(offset) {
    const page = await list.showPage({ offset });
    if (page === undefined) return;
    shownOffset = offset;
    pager.update(offset, page[options.rowsField].length, page.total);
    onLoad(page);
  }

  return {
    ...sharedParts(list, pager),
    load,
    reload: () => load(shownOffset),
    startOver() {
      shownOffset = 0;
      list.showLoading();
      return load(0);
    },
  };
}

/**
 * A list paged by cursor, where a page is known by the query parameters of its start (`{ cursor }`, `{ from }`,
 * ...) and only the next page's start is known. Takes the options of every list (see `createListCore`) and:
 * - `pager`: `{ testid, pageLabel }` of its `createCursorPager`;
 * - `nextPosition(page)`: the start of the page after `page`, or `null` at the end.
 * A new search starts from the first page (no start parameters).
 * Returns `content`, `section()`, `render()` and `showLoading()` as `createOffsetList` does, and:
 * - `restart(position)`: shows the page starting at `position` (default: the first page) as page 1;
 * - `reload()`: the page shown last (nothing before the first `restart`).
 */
export function createCursorList({ pager: pagerOptions, nextPosition, ...options }) {
  const list = createListCore(options, () => pager.restart({}));
  const pager = createCursorPager({
    ...pagerOptions,
    load: async (position) => {
      const page = await list.showPage(position);
      return page === undefined ? undefined : nextPosition(page);
    },
  });

  return {
    ...sharedParts(list, pager),
    restart: (position = {}) => pager.restart(position),
    reload: () => pager.reload(),
  };
}

/** What both kinds of list return alike: see `createOffsetList`. */
function sharedParts(list, pager) {
  const content = [list.holder, pager.element];
  return {
    content,
    section: ({ heading, testid }) =>
      panelSection({ heading, testid, tools: list.searchForm ? [list.searchForm] : [], content }),
    render: list.render,
    showLoading: list.showLoading,
  };
}

/**
 * What both kinds of list share. Options:
 * - `endpoint`, `rowsField`: `GET /api/<endpoint>` answers a page whose rows are `page[rowsField]`;
 * - `fetchPage(params)`: asks for a page instead of that one `GET` (the store's scan follows empty pages);
 * - `errorSource`: the source of this list's errors in the notices;
 * - `query()`: the request's own parameters (the selected queue, ...), or `null` while there is nothing to list;
 * - `search`: `{ id, label, placeholder, testid, param }` adds a `searchField` whose text is sent as `param`
 *   (default `search`); a new search text asks for the first page through `onSearch`;
 * - `table(page, searchText)`: the `renderTable` options for `page`, all but its rows;
 * - `markBusy`: marks the table `aria-busy` (dimmed) while a page loads.
 */
function createListCore(
  {
    endpoint,
    rowsField,
    fetchPage = (params) => apiGet(endpoint, params),
    errorSource,
    query = () => ({}),
    search,
    table,
    markBusy = false,
  },
  onSearch,
) {
  let searchText = '';
  let shownPage = null;
  const holder = element('div', { class: 'table-holder' });
  const fetchLatest = latestOnly(fetchPage);
  const searchParam = search?.param ?? DEFAULT_SEARCH_PARAM;
  const searchForm =
    search &&
    searchField({
      id: search.id,
      label: search.label,
      placeholder: search.placeholder,
      testid: search.testid,
      onSearch: (text) => {
        searchText = text;
        return onSearch();
      },
    }).form;

  /**
   * Fetches the page starting at `position` (its paging parameters) and shows it; resolves with the page, or
   * `undefined` when there is nothing to list, a newer request was made meanwhile, or the request failed.
   */
  async function showPage(position) {
    const ownParams = query();
    if (ownParams === null) return undefined;
    if (markBusy) holder.setAttribute('aria-busy', 'true');
    try {
      const searchParams = search ? { [searchParam]: searchText } : {};
      const page = await fetchLatest({ ...searchParams, ...ownParams, ...position, limit: PAGE_SIZE });
      if (page === undefined) return undefined;
      clearError(errorSource);
      shownPage = page;
      render();
      return page;
    } catch (error) {
      reportError(errorSource, error);
      return undefined;
    } finally {
      if (markBusy) holder.removeAttribute('aria-busy');
    }
  }

  function render() {
    if (shownPage === null) return;
    replaceChildren(holder, renderTable({ ...table(shownPage, searchText), rows: shownPage[rowsField] }));
  }

  return {
    holder,
    searchForm,
    showPage,
    render,
    showLoading: () => replaceChildren(holder, loadingNote()),
  };
}
