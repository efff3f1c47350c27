// Starts the dashboard: asks /api/health whether a token is needed and whether actions are allowed, builds the
// tabs, follows the URL's #tab, and polls /api/overview once a second for the overview, the header and the tab
// badges. Polling never stops: a failed poll shows its error and the next one tries again.

import { apiGet, onUnauthorized, storedToken } from './api.js';
import { askForToken, onTokenEntered } from './auth.js';
import { setReadOnly } from './actions.js';
import { HEALTH_RETRY_INTERVAL_MS, OVERVIEW_POLL_INTERVAL_MS } from './config.js';
import { element } from './dom.js';
import { formatCount, formatDuration } from './format.js';
import { clearError, reportError } from './notices.js';
import { closeViewer } from './viewer.js';
import { createOverviewTab } from './tabs/overview.js';
import { createPubSubTab } from './tabs/pubsub.js';
import { createQueuesTab } from './tabs/queues.js';
import { createStoreTab } from './tabs/store.js';
import { createStreamsTab } from './tabs/streams.js';

/** The tabs in order; `badge(overview)` is the count shown on the tab. */
const TABS = [
  { id: 'overview', label: 'Overview', create: createOverviewTab, badge: null },
  { id: 'store', label: 'Store', create: createStoreTab, badge: (overview) => overview.store.keys },
  { id: 'pubsub', label: 'Pub/Sub', create: createPubSubTab, badge: (overview) => overview.pubsub.subscriptions },
  { id: 'queues', label: 'Queues', create: createQueuesTab, badge: (overview) => overview.queues.queues },
  { id: 'streams', label: 'Streams', create: createStreamsTab, badge: (overview) => overview.streams.streams },
];
const DEFAULT_TAB = 'overview';
const OVERVIEW_ERROR_SOURCE = 'overview';
const HEALTH_ERROR_SOURCE = 'health';

const tabBar = document.querySelector('[data-testid="tab-bar"]');
const tabPanels = document.querySelector('[data-testid="tab-panels"]');
const statusLabel = document.querySelector('[data-testid="connection-status"]');
const tabs = new Map();
let activeTab = null;

start();

async function start() {
  const health = await waitForHealth();
  document.querySelector('[data-testid="server-version"]').textContent = `v${health.version}`;
  setReadOnly(health.readOnly);
  document.querySelector('[data-testid="read-only-note"]').hidden = !health.readOnly;
  onUnauthorized((sentToken) => {
    // A request that left before the user entered a new token says nothing about the new one.
    if (sentToken !== storedToken()) return;
    const why =
      sentToken === null ? 'This server needs an access token.' : 'The server refused the token: enter it again.';
    askForToken(why, { rejected: true });
  });
  onTokenEntered(() => activeTab?.show());
  if (health.auth && storedToken() === null) await askForToken('This server needs an access token for its dashboard.');
  buildTabs();
  window.addEventListener('hashchange', () => openTab(tabFromHash()));
  openTab(tabFromHash());
  pollOverview();
}

/** Asks /api/health until the server answers (it may still be starting). */
async function waitForHealth() {
  for (;;) {
    try {
      const health = await apiGet('health');
      clearError(HEALTH_ERROR_SOURCE);
      return health;
    } catch (error) {
      reportError(HEALTH_ERROR_SOURCE, error);
      setStatus('offline', 'Unreachable');
      await new Promise((resolve) => setTimeout(resolve, HEALTH_RETRY_INTERVAL_MS));
    }
  }
}

function buildTabs() {
  for (const definition of TABS) {
    const tab = definition.create({ openTab: (id) => (window.location.hash = id) });
    const badge = element('span', { class: 'tab-badge', testid: `tab-badge-${definition.id}` });
    const button = element(
      'button',
      {
        type: 'button',
        role: 'tab',
        id: `tab-${definition.id}`,
        'aria-controls': `panel-${definition.id}`,
        'aria-selected': 'false',
        testid: `tab-${definition.id}`,
        onclick: () => (window.location.hash = definition.id),
      },
      [definition.label, definition.badge && badge],
    );
    const panel = element(
      'section',
      {
        role: 'tabpanel',
        id: `panel-${definition.id}`,
        'aria-labelledby': `tab-${definition.id}`,
        testid: `panel-${definition.id}`,
        hidden: true,
      },
      tab.panel,
    );
    tabBar.append(button);
    tabPanels.append(panel);
    tabs.set(definition.id, { ...tab, definition, button, badge, panelElement: panel });
  }
}

function tabFromHash() {
  const id = window.location.hash.slice(1);
  return tabs.has(id) ? id : DEFAULT_TAB;
}

function openTab(id) {
  const next = tabs.get(id);
  if (next === activeTab) return;
  for (const tab of tabs.values()) {
    const selected = tab === next;
    tab.button.setAttribute('aria-selected', String(selected));
    tab.panelElement.hidden = !selected;
  }
  activeTab = next;
  closeViewer();
  next.show();
}

/** Fetches the overview, draws it, and schedules the next poll once this one is done (polls never pile up). */
async function pollOverview() {
  try {
    const overview = await apiGet('overview');
    clearError(OVERVIEW_ERROR_SOURCE);
    setStatus('live', 'Live');
    renderOverview(overview);
  } catch (error) {
    reportError(OVERVIEW_ERROR_SOURCE, error);
    setStatus('offline', error.status === 0 ? 'Unreachable' : 'Error');
  }
  setTimeout(pollOverview, OVERVIEW_POLL_INTERVAL_MS);
}

function renderOverview(overview) {
  tabs.get('overview').render(overview);
  document.querySelector('[data-testid="top-uptime"]').textContent = formatDuration(overview.uptimeMs);
  document.querySelector('[data-testid="top-connections"]').textContent = formatCount(overview.connections);
  for (const tab of tabs.values()) {
    if (tab.definition.badge !== null) tab.badge.textContent = formatCount(tab.definition.badge(overview));
    tab.overview?.(overview);
  }
}

function setStatus(kind, text) {
  statusLabel.className = `status status-${kind}`;
  statusLabel.textContent = text;
}
