// render.js -- fills the page from the REST answers: the header (job
// name, state, uptime, restarts), the operator table, the checkpoint
// counts / latest / history, and the exceptions.  Every value goes in as
// text (never as HTML), and a missing or null field prints as a dash.
//
// Stable hooks for tests and scripts: #operators tr[data-vertex] (with
// data-in-rate / data-out-rate, the raw records/s), #checkpoint-history
// tr[data-checkpoint] (with data-status), #exceptions .exception.

import * as f from './format.js';

export const $ = (sel) => document.querySelector(sel);

// h('td', {class: 'n'}, 'text', child, ...): an element with attributes
export function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v !== null && v !== undefined) e.setAttribute(k, String(v));
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c ?? ''));
  return e;
}

const obj = (x) => (x && typeof x === 'object' ? x : {});
const arr = (x) => (Array.isArray(x) ? x : []);
const objects = (x) => arr(x).filter((o) => o !== null && typeof o === 'object');

export function renderHeader(job, now) {
  $('#job-name').textContent = job.name || '(unnamed job)';
  $('#job-id').textContent = job.jid || '\u2014';
  setState(job.state || 'UNKNOWN');
  let up = f.num(job.duration);
  if (up === null && f.num(job['start-time']) !== null && f.num(now) !== null) up = now - job['start-time'];
  $('#job-uptime').textContent = f.duration(up);
  const r = f.num(job.restarts);
  $('#job-restarts').textContent = r === null ? '\u2014' : String(r);
}

export function setState(state) {
  const s = $('#job-state');
  s.textContent = state;
  s.dataset.state = state;
  document.body.dataset.state = state;
}

function ratioCell(msPerSecond) {
  const r = f.ratio(msPerSecond);
  return h('td', { class: `n ratio ${r.level}`, 'data-level': r.level }, r.text);
}

// the vertices as table rows; returns Map vid -> level (the worse of
// backpressured and busy) for the graph's colours
export function renderOperators(tbody, vertices, now) {
  const levels = new Map();
  const rank = { none: 0, ok: 1, warn: 2, bad: 3 };
  const rows = objects(vertices).map((v) => {
    v = obj(v);
    const m = obj(v.metrics);
    const bp = f.ratio(m['backpressured-time-ms-per-second']);
    const busy = f.ratio(m['busy-time-ms-per-second']);
    levels.set(v.id, rank[bp.level] >= rank[busy.level] ? bp.level : busy.level);
    const inWm = f.watermarkLag(m['current-input-watermark'], now);
    const outWm = f.watermarkLag(m['current-output-watermark'], now);
    const inRate = f.num(m['records-in-per-second']);
    const outRate = f.num(m['records-out-per-second']);
    return h('tr', { 'data-vertex': v.id, 'data-in-rate': inRate ?? '', 'data-out-rate': outRate ?? '' },
      h('td', { class: 'name', title: v.id || '' }, v.name || v.id || '?'),
      h('td', { class: 'n' }, f.num(v.parallelism) ?? '\u2014'),
      h('td', { class: 'n rate-in' }, f.count(inRate)),
      h('td', { class: 'n rate-out' }, f.count(outRate)),
      h('td', { class: 'n' }, f.count(m['read-records'])),
      h('td', { class: 'n' }, f.count(m['write-records'])),
      ratioCell(m['backpressured-time-ms-per-second']),
      ratioCell(m['busy-time-ms-per-second']),
      h('td', { class: inWm.none ? 'muted' : 'wm', title: inWm.full }, inWm.text),
      h('td', { class: outWm.none ? 'muted' : 'wm', title: outWm.full }, outWm.text),
      h('td', { class: 'n wm-lag' }, inWm.none ? outWm.lag : inWm.lag),
      h('td', { class: 'n' }, f.count(m['late-records-dropped'])));
  });
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 12, class: 'muted' }, 'no operators')));
  tbody.replaceChildren(...rows);
  return levels;
}

function checkpointRow(c) {
  c = obj(c);
  const failed = c.status === 'FAILED';
  const acked = f.num(c.num_acknowledged_subtasks);
  const total = f.num(c.num_subtasks);
  return h('tr', { 'data-checkpoint': c.id ?? '', 'data-status': c.status || '' },
    h('td', { class: 'n' }, c.id ?? '\u2014'),
    h('td', {}, h('span', { class: `status ${String(c.status || '').toLowerCase()}` }, c.status || '?')),
    h('td', {}, c.checkpoint_type || (c.is_savepoint ? 'SAVEPOINT' : 'CHECKPOINT')),
    h('td', {}, f.timestamp(c.trigger_timestamp)),
    h('td', { class: 'n' }, f.duration(c.end_to_end_duration)),
    h('td', { class: 'n' }, f.bytes(c.checkpointed_size ?? c.state_size)),
    h('td', { class: 'n' }, f.duration(c.alignment_duration)),
    h('td', { class: 'n' }, acked === null ? '\u2014' : `${acked}/${total ?? '?'}`),
    h('td', { class: failed ? 'path failure' : 'path' },
      failed ? c.failure_message || 'failed' : c.external_path || ''));
}

export function renderCheckpoints(data) {
  data = obj(data);
  const counts = obj(data.counts);
  const dl = $('#checkpoint-counts');
  dl.replaceChildren(...['completed', 'failed', 'in_progress', 'restored', 'total'].flatMap((k) => [
    h('dt', {}, k.replace('_', ' ')),
    h('dd', { 'data-count': k }, f.num(counts[k]) ?? '\u2014'),
  ]));
  const latest = obj(data.latest);
  const done = latest.completed;
  const parts = [];
  if (done && typeof done === 'object') {
    parts.push(`Latest completed: #${done.id ?? '?'}, ${f.duration(done.end_to_end_duration)}, ` +
      `${f.bytes(done.checkpointed_size ?? done.state_size)}, at ${f.timestamp(done.latest_ack_timestamp)}` +
      (done.external_path ? ` (${done.external_path})` : ''));
  } else {
    parts.push('No checkpoint completed yet.');
  }
  if (latest.failed && typeof latest.failed === 'object') {
    parts.push(`Latest failed: #${latest.failed.id ?? '?'}` +
      (latest.failed.failure_message ? `: ${latest.failed.failure_message}` : ''));
  }
  if (latest.restored && typeof latest.restored === 'object') {
    parts.push(`Restored from #${latest.restored.id ?? '?'}` +
      (latest.restored.external_path ? ` (${latest.restored.external_path})` : ''));
  }
  $('#checkpoint-latest').textContent = parts.join(' \u00b7 ');
  const rows = objects(data.history).map(checkpointRow);
  if (!rows.length) rows.push(h('tr', {}, h('td', { colspan: 9, class: 'muted' }, 'no checkpoints yet')));
  $('#checkpoint-history tbody').replaceChildren(...rows);
}

export function renderExceptions(data) {
  data = obj(data);
  const box = $('#exceptions');
  const items = [];
  if (data['root-exception']) {
    items.push(h('div', { class: 'exception root' },
      h('div', { class: 'ex-head' }, 'Root exception', h('span', { class: 'when' }, f.timestamp(data.timestamp))),
      h('pre', {}, String(data['root-exception']))));
  }
  for (const e of objects(obj(data.exceptionHistory).entries)) {
    const x = obj(e);
    items.push(h('div', { class: 'exception' },
      h('div', { class: 'ex-head' }, x.exceptionName || 'exception',
        x.taskName ? ` in ${x.taskName}` : '', h('span', { class: 'when' }, f.timestamp(x.timestamp))),
      h('pre', {}, String(x.stacktrace ?? ''))));
  }
  if (!items.length) items.push(h('p', { class: 'muted' }, 'No exceptions: the job has not failed or restarted.'));
  box.replaceChildren(...items);
}
