// Action buttons and the one way an action runs: confirm in the dialog, call the POST endpoint, show the result,
// refresh the view. In read-only mode (/api/health `readOnly`) every action button is disabled.

import { confirmAction } from './dialog.js';
import { clearError, reportError, reportResult } from './notices.js';
import { element } from './dom.js';

/** Tooltip of a disabled action button. */
const READ_ONLY_TITLE = 'Disabled: the server runs with --dashboard-read-only';
/** Source name of action errors in the notices. */
const ACTION_ERROR_SOURCE = 'action';

let readOnly = false;

/** Set once from /api/health; buttons made afterwards follow it. */
export function setReadOnly(value) {
  readOnly = value;
  document.body.classList.toggle('read-only', value);
  for (const button of document.querySelectorAll('button[data-action]')) disableIfReadOnly(button);
}

/**
 * A button that runs an action:
 * - `confirm` is what `confirmAction` shows (heading, message, fields, confirmLabel);
 * - `perform()` calls the endpoint and resolves with its answer;
 * - `describe(answer)` is the result line shown afterwards;
 * - `after()` refreshes the view (also after a failure, since the state may have changed anyway);
 * - `dangerous`: the action destroys data (the button and the dialog's confirm button are red).
 */
export function actionButton({ label, testid, confirm, perform, describe, after, dangerous, small = false }) {
  const button = element(
    'button',
    {
      type: 'button',
      class: ['action', dangerous && 'danger', small && 'small'],
      testid,
      dataset: { action: testid },
      onclick: (event) => {
        event.stopPropagation();
        const dialog = typeof confirm === 'function' ? confirm() : confirm;
        runAction({ confirm: { ...dialog, dangerous }, perform, describe, after });
      },
    },
    label,
  );
  disableIfReadOnly(button);
  return button;
}

async function runAction({ confirm, perform, describe, after }) {
  if (readOnly) return;
  if (!(await confirmAction(confirm))) return;
  try {
    const answer = await perform();
    clearError(ACTION_ERROR_SOURCE);
    reportResult(describe(answer));
  } catch (error) {
    reportError(ACTION_ERROR_SOURCE, error);
  }
  await after?.();
}

function disableIfReadOnly(button) {
  button.disabled = readOnly;
  if (readOnly) button.title = READ_ONLY_TITLE;
  else button.removeAttribute('title');
}
