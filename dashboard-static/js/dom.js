// Builds DOM elements from plain values. Every module makes its markup through `element`, so text from the server
// is always set as text, never parsed as HTML.

/**
 * Creates `<tag>` with `attributes` and `children`.
 * - `class` sets the class list, `testid` sets `data-testid`, `dataset` sets `data-*` attributes;
 * - `on<event>` functions become event listeners (`onclick`, `onsubmit`, ...);
 * - `true` / `false` / `null` / `undefined` set, skip or omit boolean attributes (`hidden`, `disabled`, ...);
 * - children are nodes, strings (text), numbers (text), nested arrays, or `null` / `false` (skipped).
 */
export function element(tag, attributes = {}, children = []) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) setAttribute(node, name, value);
  append(node, children);
  return node;
}

/** Creates an SVG element (SVG needs its own namespace). */
export function svgElement(tag, attributes = {}, children = []) {
  const node = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [name, value] of Object.entries(attributes)) setAttribute(node, name, value);
  append(node, children);
  return node;
}

/** Replaces every child of `node` with `children` (same forms as `element`). */
export function replaceChildren(node, children) {
  node.replaceChildren();
  append(node, children);
}

function append(node, children) {
  const list = Array.isArray(children) ? children.flat(Infinity) : [children];
  for (const child of list) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

function setAttribute(node, name, value) {
  if (value === undefined || value === null || value === false) return;
  if (name === 'class') node.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
  else if (name === 'testid') node.setAttribute('data-testid', value);
  else if (name === 'dataset') Object.assign(node.dataset, value);
  else if (name.startsWith('on') && typeof value === 'function') node.addEventListener(name.slice(2), value);
  else if (value === true) node.setAttribute(name, '');
  else node.setAttribute(name, String(value));
}

/** The items of a `<dl>`: each `[label, value]` pair as a `<div>` holding its `<dt>` and `<dd>`. */
export function definitionItems(pairs) {
  return pairs.map(([label, value]) => element('div', {}, [element('dt', {}, label), element('dd', {}, value)]));
}

/** Calls `action` once input has paused for `delayMs` (for search fields that query the server). */
export function debounce(action, delayMs) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => action(...args), delayMs);
  };
}
