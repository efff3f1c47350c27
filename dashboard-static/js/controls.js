// Form controls shared by the tabs: a labelled search field that queries as the user types, and a titled panel
// section.

import { SEARCH_DEBOUNCE_MS } from './config.js';
import { debounce, element } from './dom.js';

/**
 * A labelled `<input type="search">` in a form: `onSearch(text)` runs when typing pauses and on Enter.
 * Returns the form and its input.
 */
export function searchField({ id, label, placeholder, testid, onSearch }) {
  const input = element('input', { id, type: 'search', placeholder, autocomplete: 'off', spellcheck: 'false', testid });
  const searchLater = debounce(() => onSearch(input.value), SEARCH_DEBOUNCE_MS);
  input.addEventListener('input', searchLater);
  const form = element(
    'form',
    {
      class: 'search',
      role: 'search',
      onsubmit: (event) => {
        event.preventDefault();
        onSearch(input.value);
      },
    },
    [
      element('label', { for: id }, label),
      input,
      element('button', { type: 'submit', testid: `${testid}-submit` }, 'Search'),
    ],
  );
  return { form, input };
}

/** A `<section>` with an `<h2>` heading, optional controls beside the heading, and content. */
export function panelSection({ heading, testid, tools = [], content = [] }) {
  return element('section', { class: 'panel-section', testid }, [
    element('div', { class: 'panel-section-header' }, [
      element('h2', {}, heading),
      element('div', { class: 'tools' }, tools),
    ]),
    content,
  ]);
}

/**
 * Runs `load` so that only the latest call's answer is used: an answer arriving after a newer call started is
 * dropped (resolves `undefined`), so a slow old search cannot overwrite a newer one.
 */
export function latestOnly(load) {
  let generation = 0;
  return async (...args) => {
    generation += 1;
    const mine = generation;
    const answer = await load(...args);
    return mine === generation ? answer : undefined;
  };
}
