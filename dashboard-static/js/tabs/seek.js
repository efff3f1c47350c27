// The fields of the "Seek group" dialog: where to move a consumer group (start, end, an offset or a time).

import { element } from '../dom.js';
import { parseLocalDateTime } from '../format.js';

/** The seek targets the API takes (`to=start|end|<offset>` or `time=<ms>`), in the order shown. */
const SEEK_TARGETS = [
  { value: 'start', label: 'Start of the stream' },
  { value: 'end', label: 'End of the stream (only new records)' },
  { value: 'offset', label: 'An offset' },
  { value: 'time', label: 'A time (first record written then or later)' },
];

/** The form fields, and `target()`: the query parameters they describe. */
export function seekFields() {
  const target = element(
    'select',
    { id: 'seek-target', testid: 'seek-target' },
    SEEK_TARGETS.map(({ value, label }) => element('option', { value }, label)),
  );
  const offset = element('input', {
    type: 'number',
    id: 'seek-offset',
    min: 0,
    step: 1,
    value: 0,
    testid: 'seek-offset',
  });
  const time = element('input', { type: 'datetime-local', id: 'seek-time', step: 1, testid: 'seek-time' });
  const offsetRow = element('div', { class: 'field' }, [element('label', { for: 'seek-offset' }, 'Offset'), offset]);
  const timeRow = element('div', { class: 'field' }, [element('label', { for: 'seek-time' }, 'Time'), time]);
  const showRelevantInput = () => {
    offsetRow.hidden = target.value !== 'offset';
    timeRow.hidden = target.value !== 'time';
  };
  target.addEventListener('change', showRelevantInput);
  showRelevantInput();
  return {
    element: element('div', { class: 'fields' }, [
      element('div', { class: 'field' }, [element('label', { for: 'seek-target' }, 'Move to'), target]),
      offsetRow,
      timeRow,
    ]),
    target() {
      if (target.value === 'offset') return { to: Math.max(0, Number.parseInt(offset.value, 10) || 0) };
      if (target.value === 'time') return { time: parseLocalDateTime(time.value) ?? Date.now() };
      return { to: target.value };
    },
  };
}
