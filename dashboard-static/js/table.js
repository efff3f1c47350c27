// Renders one page of a list as a table. Rows may be selectable: the first cell then holds a button (for the
// keyboard and screen readers) and a click anywhere on the row selects it too.

import { element } from './dom.js';

/**
 * A `<table>` of `rows`:
 * - `columns`: `{ label, cell: (row) => node or text, numeric }`, in order;
 * - `rowTestid`, `rowName(row)`: each `<tr>` gets `data-testid=rowTestid` and `data-name=rowName(row)`;
 * - `onSelect(row)`: makes rows selectable; `selectedName` marks the selected one;
 * - `emptyText`: what an empty page says.
 */
export function renderTable({ testid, columns, rows, rowTestid, rowName, onSelect, selectedName = null, emptyText }) {
  const head = element(
    'thead',
    {},
    element(
      'tr',
      {},
      columns.map((column) => headerCell(column)),
    ),
  );
  const bodyRows =
    rows.length === 0
      ? [element('tr', { class: 'empty-row' }, element('td', { colspan: columns.length, class: 'muted' }, emptyText))]
      : rows.map((row) => tableRow({ row, columns, rowTestid, rowName, onSelect, selectedName }));
  return element(
    'div',
    { class: 'table-scroll' },
    element('table', { class: 'data-table', testid }, [head, element('tbody', {}, bodyRows)]),
  );
}

function headerCell(column) {
  return element('th', { scope: 'col', class: column.numeric && 'numeric' }, column.label);
}

function tableRow({ row, columns, rowTestid, rowName, onSelect, selectedName }) {
  const name = rowName(row);
  const selectable = onSelect !== undefined;
  const selected = selectable && name === selectedName;
  const cells = columns.map((column, index) => {
    const content = column.cell(row);
    const inner =
      index === 0 && selectable
        ? element('button', { type: 'button', class: 'row-select', 'aria-pressed': String(selected) }, content)
        : content;
    return element('td', { class: column.numeric && 'numeric' }, inner);
  });
  return element(
    'tr',
    {
      testid: rowTestid,
      dataset: { name: String(name) },
      class: [selectable && 'selectable', selected && 'selected'],
      onclick: selectable ? () => onSelect(row) : undefined,
    },
    cells,
  );
}

/** A cell with monospace text, cut by CSS when long (the whole text is in its tooltip). */
export function codeCell(text) {
  return element('code', { class: 'cell-code', title: text }, text);
}
