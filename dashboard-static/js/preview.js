// Renders a value *preview* (docs/dashboard-api.md: contentType, size, truncated, text, hex): JSON pretty-printed,
// text as text, binary as a hex dump, each with its size and whether the preview was cut.

import { CELL_PREVIEW_CHARS } from './config.js';
import { element } from './dom.js';
import { formatBytes, formatCount } from './format.js';

/** Bytes per line of a hex dump: 8, so a line fits the viewer's width without scrolling. */
const HEX_DUMP_BYTES_PER_LINE = 8;
/** Hex digits per byte. */
const HEX_DIGITS_PER_BYTE = 2;
/** Digits of the offset column of a hex dump. */
const HEX_DUMP_OFFSET_DIGITS = 8;
/** Indentation of pretty-printed JSON. */
const JSON_INDENT = 2;
/** Printable ASCII range shown as characters in a hex dump; other bytes show as a dot. */
const FIRST_PRINTABLE_BYTE = 0x20;
const LAST_PRINTABLE_BYTE = 0x7e;

/**
 * How to show a preview: `json` (tagged json or text that parses as a JSON object or array), `text`, `binary`
 * (not UTF-8: only `hex`), with the text to display.
 */
export function interpretPreview(preview) {
  if (preview.text === null) return { kind: 'binary', display: hexDump(preview.hex ?? '') };
  const parsed = parseJson(preview.text);
  const looksLikeJson =
    parsed.ok && (preview.contentType === 'json' || (typeof parsed.value === 'object' && parsed.value !== null));
  if (looksLikeJson) return { kind: 'json', display: JSON.stringify(parsed.value, null, JSON_INDENT) };
  return { kind: 'text', display: preview.text };
}

/** The whole preview for the viewer: a line of facts (kind, tag, size, truncated) and the content. */
export function renderPreview(preview, { testid = 'preview' } = {}) {
  if (preview === null) return element('p', { class: 'muted', testid: `${testid}-none` }, 'No value.');
  const { kind, display } = interpretPreview(preview);
  const shownBytes = kind === 'binary' ? (preview.hex ?? '').length / HEX_DIGITS_PER_BYTE : null;
  return element('div', { class: 'preview', testid, dataset: { kind } }, [
    element('div', { class: 'preview-facts' }, [
      element('span', { class: `badge kind-${kind}`, testid: `${testid}-kind` }, kindLabel(kind)),
      element('span', { class: 'badge', title: 'Tag the writer gave the value' }, preview.contentType),
      element(
        'span',
        { testid: `${testid}-size`, title: `${formatCount(preview.size)} bytes` },
        formatBytes(preview.size),
      ),
      preview.truncated &&
        element(
          'span',
          { class: 'badge warning', testid: `${testid}-truncated` },
          shownBytes === null ? 'truncated' : `truncated: first ${formatBytes(shownBytes)} shown`,
        ),
    ]),
    element('pre', { class: ['preview-content', `kind-${kind}`], testid: `${testid}-content` }, display),
  ]);
}

/** One line for a table cell: the start of the text (JSON compacted), or the start of the hex for binary values. */
export function summarizePreview(preview) {
  if (preview === null) return '—';
  const { kind } = interpretPreview(preview);
  const line = kind === 'binary' ? `0x ${spacedHex(preview.hex ?? '')}` : preview.text.replace(/\s+/g, ' ');
  const cut = line.length > CELL_PREVIEW_CHARS || preview.truncated;
  return cut ? `${line.slice(0, CELL_PREVIEW_CHARS)}…` : line;
}

/** `hex` as lines of `offset  hex bytes  |ascii|`, like `hexdump -C` (with shorter lines). */
export function hexDump(hex) {
  const lineHexDigits = HEX_DUMP_BYTES_PER_LINE * HEX_DIGITS_PER_BYTE;
  const lines = [];
  for (let start = 0; start < hex.length; start += lineHexDigits) {
    const bytes = byteValues(hex.slice(start, start + lineHexDigits));
    const offset = (start / HEX_DIGITS_PER_BYTE).toString(16).padStart(HEX_DUMP_OFFSET_DIGITS, '0');
    const hexColumn = bytes.map((byte) => byte.toString(16).padStart(HEX_DIGITS_PER_BYTE, '0')).join(' ');
    const width = HEX_DUMP_BYTES_PER_LINE * (HEX_DIGITS_PER_BYTE + 1) - 1;
    const ascii = bytes
      .map((byte) => (byte >= FIRST_PRINTABLE_BYTE && byte <= LAST_PRINTABLE_BYTE ? String.fromCharCode(byte) : '.'))
      .join('');
    lines.push(`${offset}  ${hexColumn.padEnd(width)}  |${ascii}|`);
  }
  return lines.join('\n');
}

function byteValues(hex) {
  const bytes = [];
  for (let index = 0; index + HEX_DIGITS_PER_BYTE <= hex.length; index += HEX_DIGITS_PER_BYTE) {
    bytes.push(Number.parseInt(hex.slice(index, index + HEX_DIGITS_PER_BYTE), 16));
  }
  return bytes;
}

function spacedHex(hex) {
  return (hex.match(/../g) ?? []).join(' ');
}

function parseJson(text) {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

function kindLabel(kind) {
  return { json: 'JSON', text: 'text', binary: 'binary' }[kind];
}
