// Paging controls. The server pages every list: offset paging (`offset`, `limit`, `total`) for topics,
// subscriptions, queues, queue messages and streams; cursor paging for store keys and stream records, where only
// "next" is known and the pages already seen are remembered to go back.

import { element } from './dom.js';
import { formatCount } from './format.js';

/**
 * Previous / next buttons and "first–last of total" for offset paging. `onChange(offset)` loads that page;
 * `update(offset, shown, total)` is called after each load.
 */
export function createOffsetPager({ testid, pageSize, onChange }) {
  let currentOffset = 0;
  let currentTotal = 0;
  const range = element('span', { class: 'pager-range', testid: `${testid}-range` });
  const previous = element(
    'button',
    { type: 'button', testid: `${testid}-previous`, onclick: () => onChange(Math.max(0, currentOffset - pageSize)) },
    '‹ Previous',
  );
  const next = element(
    'button',
    { type: 'button', testid: `${testid}-next`, onclick: () => onChange(currentOffset + pageSize) },
    'Next ›',
  );
  const root = element('div', { class: 'pager', testid }, [range, previous, next]);
  return {
    element: root,
    update(offset, shown, total) {
      currentOffset = offset;
      currentTotal = total;
      range.textContent =
        shown === 0
          ? `0 of ${formatCount(total)}`
          : `${formatCount(offset + 1)}–${formatCount(offset + shown)} of ${formatCount(total)}`;
      previous.disabled = offset === 0;
      next.disabled = offset + shown >= currentTotal;
    },
  };
}

/**
 * First / previous / next buttons for cursor paging, where a page is known by the position it started from.
 * `load(position)` loads a page and resolves with the position of the next one (`null` at the end).
 */
export function createCursorPager({ testid, load, pageLabel = 'Page' }) {
  let starts = [];
  let pageIndex = 0;
  let nextPosition = null;
  const label = element('span', { class: 'pager-range', testid: `${testid}-range` });
  const first = element('button', { type: 'button', testid: `${testid}-first`, onclick: () => goTo(0) }, '« First');
  const previous = element(
    'button',
    { type: 'button', testid: `${testid}-previous`, onclick: () => goTo(pageIndex - 1) },
    '‹ Previous',
  );
  const next = element('button', { type: 'button', testid: `${testid}-next`, onclick: () => goNext() }, 'Next ›');
  const root = element('div', { class: 'pager', testid }, [label, first, previous, next]);

  async function goTo(index) {
    const position = await load(starts[index]);
    if (position === undefined) return; // an outdated or failed load: keep the controls as they were
    pageIndex = index;
    nextPosition = position;
    render();
  }

  function goNext() {
    starts = starts.slice(0, pageIndex + 1);
    starts.push(nextPosition);
    return goTo(pageIndex + 1);
  }

  function render() {
    label.textContent = `${pageLabel} ${pageIndex + 1}${nextPosition === null ? ' (last)' : ''}`;
    first.disabled = pageIndex === 0;
    previous.disabled = pageIndex === 0;
    next.disabled = nextPosition === null;
  }

  return {
    element: root,
    /** Starts over from `position` (a new search). */
    restart(position) {
      starts = [position];
      return goTo(0);
    },
    /** Loads the current page again. */
    reload() {
      return starts.length === 0 ? Promise.resolve() : goTo(pageIndex);
    },
  };
}
