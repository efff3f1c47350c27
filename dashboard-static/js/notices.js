// The strip under the tabs that shows what went wrong and what an action did. Errors are kept per source (the
// overview poll, a tab's list, an action) so a source's next success clears only its own error.

import { ACTION_RESULT_VISIBLE_MS } from './config.js';
import { describeError } from './api.js';
import { element, replaceChildren } from './dom.js';

const container = document.querySelector('[data-testid="notices"]');
const errors = new Map();
let result = null;
let resultTimer = null;

/** Shows `error` (an ApiError or any Error) as the current error of `source`, until `clearError(source)`. */
export function reportError(source, error) {
  errors.set(source, describeError(error));
  render();
}

export function clearError(source) {
  if (errors.delete(source)) render();
}

/** Shows what an action did, for a while. */
export function reportResult(message) {
  result = message;
  clearTimeout(resultTimer);
  resultTimer = setTimeout(() => {
    result = null;
    render();
  }, ACTION_RESULT_VISIBLE_MS);
  render();
}

function render() {
  const errorItems = [...errors].map(([source, message]) =>
    element('div', { class: 'notice notice-error', role: 'alert', testid: 'error', dataset: { source } }, [
      element('span', { class: 'notice-text' }, message),
      element(
        'button',
        { type: 'button', class: 'notice-dismiss', 'aria-label': 'Dismiss', onclick: () => clearError(source) },
        '×',
      ),
    ]),
  );
  const resultItem =
    result === null
      ? null
      : element('div', { class: 'notice notice-result', role: 'status', testid: 'action-result' }, result);
  replaceChildren(container, [resultItem, errorItems]);
}
