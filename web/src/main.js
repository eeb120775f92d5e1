// main.js -- the dashboard's entry point: polls the job's REST server
// (same origin, relative paths, docs/REST.md) about once a second and
// redraws the page.
//
//   /config (once)  -> the poll interval (refresh-interval, at most 1 s)
//   /jobs           -> the job to show (the one in the URL's #fragment,
//                      else the first RUNNING one, else the first)
//   /jobs/:jid, /jobs/:jid/checkpoints, /jobs/:jid/exceptions
//
// The server lives as long as the job: once fetches fail the job has
// ended (after our cancel: it was cancelled), and the page keeps the last
// data it saw with a banner saying so.  Cancel takes two clicks (the
// first arms the button for a few seconds), then PATCH jobs/:jid?mode=cancel.

import './style.css';
import { Charts } from './charts.js';
import { drawGraph, colourGraph } from './graph.js';
import { num } from './format.js';
import { $, setState, renderHeader, renderOperators, renderCheckpoints, renderExceptions } from './render.js';

const MAX_INTERVAL_MS = 1000;

const ui = {
  interval: MAX_INTERVAL_MS,
  jid: null,
  planKey: null,
  cancelSent: false,
  ended: false,
  armTimer: null,
  charts: null,
};

async function getJson(path, init) {
  const r = await fetch(path, { cache: 'no-store', ...init });
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try {
      const body = await r.json();
      if (body && Array.isArray(body.errors) && body.errors.length) msg += `: ${body.errors.join('; ')}`;
    } catch { /* not JSON */ }
    const e = new Error(`${init && init.method ? init.method : 'GET'} /${path}: ${msg}`);
    e.status = r.status;
    throw e;
  }
  const text = await r.text();
  try {
    return text ? JSON.parse(text) : {};
  } catch {
    const e = new Error(`/${path}: the answer is not JSON`);
    e.status = r.status;
    throw e;
  }
}

function banner(text, kind) {
  const b = $('#banner');
  b.textContent = text;
  b.className = kind || '';
  b.hidden = !text;
}

function pickJob(jobs) {
  const list = Array.isArray(jobs) ? jobs.filter((j) => j && j.id) : [];
  let want = location.hash.slice(1);
  try {
    want = decodeURIComponent(want);
  } catch { /* not %-encoded: use as is */ }
  return (list.find((j) => j.id === want) || list.find((j) => j.status === 'RUNNING') || list[0] || {}).id || null;
}

// sum over the vertices that read from outside (no inputs in the plan)
// and those that write outside (no consumers): the job's in and out rates
function jobRates(job) {
  const { vertices, nodes } = job;
  if (!vertices.length) return [null, null];
  const hasInput = new Set();
  const consumed = new Set();
  for (const n of nodes) {
    if (n.inputs.length) hasInput.add(n.id);
    for (const i of n.inputs) consumed.add(i.id);
  }
  const rate = (v, k) => num(v.metrics && v.metrics[k]);
  // a source may count what it reads as in or only as out; a sink the same
  const either = (v, a, b) => (rate(v, a) || rate(v, b)) ?? null;
  const sum = (vs, a, b) => {
    const xs = vs.map((v) => either(v, a, b)).filter((x) => x !== null);
    return xs.length ? xs.reduce((s, x) => s + x, 0) : null;
  };
  const sources = nodes.length ? vertices.filter((v) => !hasInput.has(v.id)) : [vertices[0]];
  const sinks = nodes.length ? vertices.filter((v) => !consumed.has(v.id)) : [vertices[vertices.length - 1]];
  return [sum(sources, 'records-in-per-second', 'records-out-per-second'),
          sum(sinks, 'records-out-per-second', 'records-in-per-second')];
}

const isObj = (x) => x !== null && typeof x === 'object' && !Array.isArray(x);
const objects = (x) => (Array.isArray(x) ? x.filter(isObj) : []);

// the answer of GET /jobs/:jid with every list a list of objects, so the
// rest of the page need not doubt what it holds
function normalise(raw) {
  const job = isObj(raw) ? { ...raw } : {};
  job.jid = typeof job.jid === 'string' ? job.jid : ui.jid;
  job.vertices = objects(job.vertices);
  job.nodes = objects(isObj(job.plan) ? job.plan.nodes : null)
    .map((n) => ({ ...n, inputs: objects(n.inputs) }));
  return job;
}

function render(raw, ckpts, exc) {
  const job = normalise(raw);
  const now = num(job.now) ?? Date.now();
  renderHeader(job, now);
  if (ui.cancelSent && job.state === 'RUNNING') setState('CANCELLING');
  const names = new Map(job.vertices.map((v) => [v.id, v.name]));
  const nodes = job.nodes;
  const key = JSON.stringify(nodes.map((n) => [n.id, n.parallelism, n.inputs.map((i) => [i.id, i.ship_strategy])]));
  if (key !== ui.planKey) {
    drawGraph($('#graph'), nodes, names);
    ui.planKey = key;
  }
  const levels = renderOperators($('#operators tbody'), job.vertices, now);
  colourGraph($('#graph'), levels);
  const [inRate, outRate] = jobRates(job);
  ui.charts.addThroughput(now, inRate, outRate);
  if (isObj(ckpts)) {
    renderCheckpoints(ckpts);
    ui.charts.addCheckpoints(objects(ckpts.history));
  }
  if (isObj(exc)) renderExceptions(exc);
  $('#cancel').disabled = ui.cancelSent || !['RUNNING', 'CREATED', 'RESTARTING'].includes(job.state);
}

async function poll() {
  if (ui.ended) return;
  try {
    if (!ui.jid) {
      ui.jid = pickJob((await getJson('jobs')).jobs);
      if (!ui.jid) {
        banner('The server runs no job.', 'info');
        return;
      }
    }
    const base = `jobs/${encodeURIComponent(ui.jid)}`;
    // the job is needed; checkpoints and exceptions may fail on their own
    const [job, ckpts, exc] = await Promise.all([
      getJson(base),
      getJson(`${base}/checkpoints`).catch(() => null),
      getJson(`${base}/exceptions`).catch(() => null),
    ]);
    try {
      render(job, ckpts, exc);
    } catch (e) { // a bug or an answer of a shape never seen: say so, keep polling
      console.error(e);
      banner(`Could not show the job's data: ${e.message}`, 'error');
      return;
    }
    if (!ui.cancelSent) banner('');
    $('#poll-status').textContent = `updated ${new Date().toLocaleTimeString()} \u00b7 every ${ui.interval} ms`;
  } catch (e) {
    if (e.status === 404 && ui.jid) { // the job went away: look again
      ui.jid = null;
      return;
    }
    if (e.status) banner(`The REST server answered with an error: ${e.message}`, 'error');
    else ended(e);
  }
}

// no answer at all: the server is gone with the job (or never answered)
function ended(e) {
  if (ui.cancelSent) {
    ui.ended = true;
    setState('CANCELED');
    banner('The job was cancelled and has ended; its server stopped with it. The page shows the last data received.', 'info');
  } else if (ui.jid) {
    ui.ended = true;
    setState('ENDED');
    banner('The job has ended (its server no longer answers). The page shows the last data received.', 'info');
  } else {
    banner(`Cannot reach the job's REST server: ${e.message}`, 'error');
  }
  $('#cancel').disabled = true;
  $('#poll-status').textContent = ui.ended ? 'not polling: the job has ended' : 'retrying\u2026';
}

function onCancel() {
  const btn = $('#cancel');
  if (!ui.jid || ui.cancelSent) return;
  if (btn.dataset.armed !== 'true') { // first click: ask for a second
    btn.dataset.armed = 'true';
    btn.textContent = 'Click again to cancel';
    clearTimeout(ui.armTimer);
    ui.armTimer = setTimeout(() => {
      btn.dataset.armed = 'false';
      btn.textContent = 'Cancel job';
    }, 5000);
    return;
  }
  clearTimeout(ui.armTimer);
  btn.dataset.armed = 'false';
  btn.disabled = true;
  btn.textContent = 'Cancelling\u2026';
  ui.cancelSent = true;
  setState('CANCELLING');
  banner('Cancel sent: the job stops without draining.', 'info');
  getJson(`jobs/${encodeURIComponent(ui.jid)}?mode=cancel`, { method: 'PATCH' }).catch((e) => {
    if (e.status) { // the server refused: say why, allow another try
      ui.cancelSent = false;
      btn.disabled = false;
      btn.textContent = 'Cancel job';
      banner(`Cancel failed: ${e.message}`, 'error');
    } // else the server went away with the job: poll() says so
  });
}

async function start() {
  ui.charts = new Charts($('#chart-throughput'), $('#chart-checkpoints'));
  $('#cancel').addEventListener('click', onCancel);
  window.addEventListener('hashchange', () => { ui.jid = null; });
  try {
    const cfg = await getJson('config');
    const r = num(cfg['refresh-interval']);
    if (r !== null && r > 0) ui.interval = Math.min(r, MAX_INTERVAL_MS);
  } catch { /* keep the default */ }
  for (;;) {
    const t0 = Date.now();
    await poll();
    if (ui.ended) return;
    await new Promise((res) => setTimeout(res, Math.max(ui.interval - (Date.now() - t0), 100)));
  }
}

start();
