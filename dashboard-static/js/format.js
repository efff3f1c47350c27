// Turns the API's numbers into text: byte sizes, counts, durations, times (the API gives times as milliseconds
// since the Unix epoch and durations as milliseconds).

const BYTES_PER_UNIT = 1024;
const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
const MS_PER_SECOND = 1000;
const SECONDS_PER_MINUTE = 60;
const MINUTES_PER_HOUR = 60;
const HOURS_PER_DAY = 24;
/** Below this many seconds a duration shows its tenths ("1.5 s"); above, whole units. */
const SECONDS_WITH_TENTHS = 10;

const counts = new Intl.NumberFormat('en-US');

/** `1536` → `1.5 KiB`; whole bytes below one KiB. */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= BYTES_PER_UNIT && unit < BYTE_UNITS.length - 1) {
    value /= BYTES_PER_UNIT;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

/** `1234567` → `1,234,567`. */
export function formatCount(count) {
  return counts.format(count);
}

/**
 * `[label, text]` pairs of the figures of `source` named by `figures`: `[label, field, format]` each, where
 * `format` (default `formatCount`) turns `source[field]` into text.
 */
export function countFigures(source, figures) {
  return figures.map(([label, field, format = formatCount]) => [label, format(source[field])]);
}

/** A duration in ms as its two largest units: `350 ms`, `4.2 s`, `3 min 20 s`, `2 h 5 min`, `3 d 4 h`. */
export function formatDuration(ms) {
  if (ms < MS_PER_SECOND) return `${Math.round(ms)} ms`;
  const seconds = ms / MS_PER_SECOND;
  if (seconds < SECONDS_WITH_TENTHS) return `${seconds.toFixed(1)} s`;
  const wholeSeconds = Math.floor(seconds);
  const minutes = Math.floor(wholeSeconds / SECONDS_PER_MINUTE);
  if (minutes === 0) return `${wholeSeconds} s`;
  const hours = Math.floor(minutes / MINUTES_PER_HOUR);
  if (hours === 0) return `${minutes} min ${wholeSeconds % SECONDS_PER_MINUTE} s`;
  const days = Math.floor(hours / HOURS_PER_DAY);
  if (days === 0) return `${hours} h ${minutes % MINUTES_PER_HOUR} min`;
  return `${days} d ${hours % HOURS_PER_DAY} h`;
}

/** A time as local `YYYY-MM-DD HH:MM:SS.mmm`. */
export function formatTime(ms) {
  const time = new Date(ms);
  const pad = (value, width = 2) => String(value).padStart(width, '0');
  const date = `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${pad(time.getDate())}`;
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}:${pad(time.getSeconds())}`;
  return `${date} ${clock}.${pad(time.getMilliseconds(), 3)}`;
}

/** A time relative to now: `3.2 s ago`, `in 5 min 0 s`. */
export function formatRelative(ms, now = Date.now()) {
  const distance = formatDuration(Math.abs(now - ms));
  return ms <= now ? `${distance} ago` : `in ${distance}`;
}

/** A TTL (`null`: the key never expires). */
export function formatTtl(ttlMs) {
  return ttlMs === null ? 'no expiry' : formatDuration(ttlMs);
}

/** The value of a `datetime-local` input (local time) as ms since the epoch, or `null` when it is empty. */
export function parseLocalDateTime(value) {
  if (value === '') return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : ms;
}
