// The confirmation dialog every action goes through (the page's own <dialog>, not window.confirm, so it can be
// styled and clicked by the browser test).

import { element, replaceChildren } from './dom.js';

const dialog = document.querySelector('[data-testid="confirm-dialog"]');
const title = document.querySelector('[data-testid="confirm-title"]');
const body = document.querySelector('[data-testid="confirm-message"]');
const confirmButton = document.querySelector('[data-testid="confirm-button"]');

/** What the confirm button's value is when it closed the dialog (see index.html). */
const CONFIRMED = 'confirm';

/**
 * Opens the dialog and resolves `true` when the user confirmed, `false` when they cancelled (button or Escape).
 * `message` is text; `fields` are optional extra elements (inputs) shown below it, read by the caller afterwards;
 * `dangerous` makes the confirm button red.
 */
export function confirmAction({ heading, message, fields = [], confirmLabel = 'Confirm', dangerous = false }) {
  title.textContent = heading;
  replaceChildren(body, [element('p', {}, message), fields]);
  confirmButton.textContent = confirmLabel;
  confirmButton.classList.toggle('danger', dangerous);
  dialog.returnValue = '';
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === CONFIRMED), { once: true });
    dialog.showModal();
    confirmButton.focus();
  });
}
