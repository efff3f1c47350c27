// Asks for the access token when the server needs one (/api/health says `auth: true`) or refused the one sent
// (401), in the page's own dialog; the token is kept in sessionStorage by api.js.

import { forgetToken, storeToken } from './api.js';

const dialog = document.querySelector('[data-testid="token-dialog"]');
const input = document.querySelector('[data-testid="token-input"]');
const reason = document.querySelector('[data-testid="token-reason"]');

const tokenListeners = new Set();
let pendingRequest = null;

// The dashboard is useless without the token, so Escape does not close this dialog.
dialog.addEventListener('cancel', (event) => event.preventDefault());

/** Calls `listener` after the user entered a token (to reload what failed). */
export function onTokenEntered(listener) {
  tokenListeners.add(listener);
}

/**
 * Shows the token form with `why` as its explanation, unless it is already open; resolves once a token was entered.
 * With `rejected`, the stored token is dropped first (the server refused it).
 */
export function askForToken(why, { rejected = false } = {}) {
  if (rejected) forgetToken();
  if (pendingRequest !== null) return pendingRequest;
  reason.textContent = why;
  input.value = '';
  pendingRequest = new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        storeToken(input.value.trim());
        pendingRequest = null;
        for (const listener of tokenListeners) listener();
        resolve();
      },
      { once: true },
    );
  });
  dialog.showModal();
  input.focus();
  return pendingRequest;
}
