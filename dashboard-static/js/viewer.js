// The side panel that shows one item: a store value, a topic's retained value and recent messages, a queue
// message or a stream record. It shows facts as a list of label / value pairs, then the previews, then the
// actions that apply to the item.

import { describeError } from './api.js';
import { definitionItems, element, replaceChildren } from './dom.js';
import { renderPreview } from './preview.js';

const panel = document.querySelector('[data-testid="viewer"]');

/**
 * Shows an item:
 * - `heading`: what it is (`Key user:1`);
 * - `facts`: `[label, text]` pairs;
 * - `sections`: `{ heading, preview, facts, testid }`, each preview rendered with `renderPreview` (its test id
 *   defaults to `viewer-value`);
 * - `actions`: buttons (from `actionButton`).
 */
export function openViewer({ heading, facts = [], sections = [], actions = [] }) {
  const closeButton = element(
    'button',
    {
      type: 'button',
      class: 'viewer-close',
      'aria-label': 'Close viewer',
      testid: 'viewer-close',
      onclick: closeViewer,
    },
    '×',
  );
  replaceChildren(panel, [
    element('div', { class: 'viewer-header' }, [element('h2', { testid: 'viewer-heading' }, heading), closeButton]),
    factList(facts, 'viewer-facts'),
    actions.length > 0 && element('div', { class: 'viewer-actions' }, actions),
    sections.map((section) =>
      element('section', { class: 'viewer-section', testid: 'viewer-section' }, [
        section.heading && element('h3', {}, section.heading),
        section.facts && factList(section.facts),
        renderPreview(section.preview, { testid: section.testid ?? 'viewer-value' }),
      ]),
    ),
  ]);
  panel.hidden = false;
  document.body.classList.add('viewer-open');
}

export function closeViewer() {
  panel.hidden = true;
  replaceChildren(panel, []);
  document.body.classList.remove('viewer-open');
}

/** Shows a failure to load the item in the viewer itself (the item may have gone meanwhile). */
function showViewerError(heading, message) {
  openViewer({ heading, facts: [['Error', message]] });
}

/**
 * Fetches an item and shows it: `describe(answer)` gives the `openViewer` options for what `load()` resolves to.
 * A failure shows in the viewer under `heading`.
 */
export async function openViewerFor({ heading, load, describe }) {
  try {
    openViewer(describe(await load()));
  } catch (error) {
    showViewerError(heading, describeError(error));
  }
}

function factList(facts, testid) {
  if (facts.length === 0) return null;
  return element('dl', { class: 'facts', testid }, definitionItems(facts));
}
