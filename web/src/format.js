// format.js -- how the dashboard prints numbers, durations, sizes, ratios
// and watermarks.  Every function takes whatever the REST answer held
// (a number, null, a missing field) and returns a string; nothing throws.

// a finite number, or null (for null, undefined, strings, NaN)
export function num(x) {
  return typeof x === 'number' && Number.isFinite(x) ? x : null;
}

const DASH = '\u2014';

// 0, 12, 1.5k, 2.35M: records or records per second
export function count(x) {
  const v = num(x);
  if (v === null) return DASH;
  const a = Math.abs(v);
  if (a < 1000) return a >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toFixed(1);
  for (const [d, s] of [[1e9, 'G'], [1e6, 'M'], [1e3, 'k']]) {
    if (a >= d) {
      const q = v / d;
      return (Math.abs(q) >= 100 ? q.toFixed(0) : Math.abs(q) >= 10 ? q.toFixed(1) : q.toFixed(2)) + s;
    }
  }
  return String(v);
}

// 850 ms, 1.25 s, 3 min 20 s, 2 h 5 min
export function duration(ms) {
  const v = num(ms);
  if (v === null || v < 0) return DASH;
  if (v < 1000) return `${Math.round(v)} ms`;
  if (v < 60e3) return `${(v / 1000).toFixed(v < 10e3 ? 2 : 1)} s`;
  const s = Math.floor(v / 1000);
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

// 512 B, 1.5 KiB, 3.20 MiB
export function bytes(x) {
  const v = num(x);
  if (v === null || v < 0) return DASH;
  if (v < 1024) return `${v} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let q = v;
  let i = -1;
  while (q >= 1024 && i < units.length - 1) {
    q /= 1024;
    i++;
  }
  return `${q >= 100 ? q.toFixed(0) : q >= 10 ? q.toFixed(1) : q.toFixed(2)} ${units[i]}`;
}

// time per second (ms) as a ratio: {text: "12%", level: "ok"|"warn"|"bad"|"none"}
// Levels as Flink's web UI colours them: under 10 % fine, under 50 %
// worth a look, else the operator is the bottleneck (busy) or is held up
// (backpressured).
export function ratio(msPerSecond) {
  const v = num(msPerSecond);
  if (v === null) return { text: DASH, level: 'none', value: null };
  const r = Math.min(Math.max(v / 1000, 0), 1);
  const level = r < 0.1 ? 'ok' : r < 0.5 ? 'warn' : 'bad';
  return { text: `${Math.round(r * 100)}%`, level, value: r };
}

// a watermark: null / missing / Flink's Long.MIN_VALUE mean "none yet"
export function watermark(wm) {
  const v = num(wm);
  return v === null || v <= -9e15 ? null : v;
}

// epoch ms as UTC "2026-11-30 09:12:03.250"
export function timestamp(ms) {
  const v = num(ms);
  if (v === null || v < 0 || v > 8.64e15) return DASH;
  return new Date(v).toISOString().replace('T', ' ').replace('Z', '');
}

// epoch ms as the UTC time of day "09:12:03.250"
export function clock(ms) {
  const t = timestamp(ms);
  return t === DASH ? t : t.slice(11);
}

// a watermark and how far it is behind `now`:
// {none, text (time of day), full (date and time), lag}
export function watermarkLag(wm, now) {
  const w = watermark(wm);
  if (w === null) return { none: true, text: 'no watermark', full: '', lag: DASH };
  const n = num(now);
  return { none: false, text: clock(w), full: timestamp(w),
           lag: n === null ? DASH : duration(Math.max(n - w, 0)) };
}
