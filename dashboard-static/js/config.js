// The page's intervals and limits, in one place. The server's own limits are in docs/dashboard-api.md.

/** How often the overview (and the header's uptime and connections) is fetched. */
export const OVERVIEW_POLL_INTERVAL_MS = 1000;

/** How long to wait before asking /api/health again when the server did not answer at start-up. */
export const HEALTH_RETRY_INTERVAL_MS = 2000;

/** Rows asked for per page of every list (the server's default; it allows up to 500). */
export const PAGE_SIZE = 50;

/** How long typing must pause before a search field queries the server. */
export const SEARCH_DEBOUNCE_MS = 250;

/** How long the result of an action stays on screen. */
export const ACTION_RESULT_VISIBLE_MS = 8000;

/** Characters of a value shown in a table cell; the viewer shows the whole preview. */
export const CELL_PREVIEW_CHARS = 80;
