// Talks to the server's JSON API (docs/dashboard-api.md): builds the URL from query parameters, sends the token
// kept in sessionStorage, and turns every non-2xx answer into an `ApiError` carrying the server's message.
// It does not retry and does not show anything: callers decide what to display.

/** sessionStorage key of the token the user entered. */
const TOKEN_STORAGE_KEY = 'nexo-dashboard-token';
/** Status the server answers when the token is missing or wrong. */
const UNAUTHORIZED_STATUS = 401;

/** An API call that failed: `status` is the HTTP status (0 when the server did not answer at all). */
export class ApiError extends Error {
  constructor(status, message, endpoint) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.endpoint = endpoint;
  }

  /** The message as shown in the page: which call failed, its status and the server's explanation. */
  describe() {
    const status = this.status === 0 ? 'no answer' : String(this.status);
    return `${this.endpoint} (${status}): ${this.message}`;
  }
}

const unauthorizedListeners = new Set();

/**
 * Calls `listener(sentToken)` every time the server answers 401 (the token is missing or wrong); `sentToken` is the
 * token that request carried (`null`: none), so a refusal of an older token can be told from one of the current.
 */
export function onUnauthorized(listener) {
  unauthorizedListeners.add(listener);
}

export function storedToken() {
  return sessionStorage.getItem(TOKEN_STORAGE_KEY);
}

export function storeToken(token) {
  sessionStorage.setItem(TOKEN_STORAGE_KEY, token);
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_STORAGE_KEY);
}

/** `GET /api/<path>?<params>`; resolves with the decoded JSON answer. */
export function apiGet(path, params = {}) {
  return request('GET', path, params);
}

/** `POST /api/<path>?<params>` (actions); resolves with the decoded JSON answer. */
export function apiPost(path, params = {}) {
  return request('POST', path, params);
}

async function request(method, path, params) {
  const url = new URL(`/api/${path}`, window.location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, String(value));
  }
  const endpoint = `${method} /api/${path}`;
  const headers = { Accept: 'application/json' };
  const token = storedToken();
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(url, { method, headers, cache: 'no-store' });
  } catch (error) {
    throw new ApiError(0, `the server did not answer (${error.message}); is nexo still running?`, endpoint);
  }
  const body = await response.json().catch(() => null);
  if (response.ok) return body;
  if (response.status === UNAUTHORIZED_STATUS) {
    for (const listener of unauthorizedListeners) listener(token);
  }
  const message = typeof body?.error === 'string' ? body.error : response.statusText || 'request failed';
  throw new ApiError(response.status, message, endpoint);
}

/** The text to show for any error thrown by an API call or by the page itself. */
export function describeError(error) {
  return error instanceof ApiError ? error.describe() : String(error?.message ?? error);
}
