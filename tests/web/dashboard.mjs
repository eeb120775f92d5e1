// dashboard.mjs -- the web dashboard in a real browser (ctest web_dashboard).
//
// Starts a continuous `sluice run window-agg` with its REST server on a free
// port, its stdin fed by a generator (200 CSV lines `timestamp_ms,key,value`
// every 100 ms, event time = the wall clock, as long as the test runs),
// reads the dashboard's URL from the job's INFO line on stderr, opens it in
// Debian's headless Chromium (playwright-core from web/'s npm packages), and
// checks, waiting with generous time-outs and never a fixed sleep:
//   - the page loads nothing from anywhere but the job's server and
//     raises no script error;
//   - the header names the job, its id (the one GET /jobs gives) and RUNNING;
//   - the operator table has one row per vertex of GET /jobs/:jid, in
//     order, and some row shows a non-zero records/s; the job graph has a
//     box per plan node and an arrow per input;
//   - the checkpoint history shows a COMPLETED checkpoint; the throughput
//     and checkpoint-duration charts draw points;
//   - a screenshot is saved as <build>/dashboard.png;
//   - Cancel (two clicks) sends PATCH jobs/:jid?mode=cancel, the page says
//     CANCELLING, `sluice run` exits with 130 (SL_EXIT_CANCELED: stopped,
//     output flushed) and the page then says the job was cancelled.
// Everything it started is killed when it ends, passing or not.  Missing
// Chromium, missing web/node_modules or an unbundled dashboard FAIL the
// test (they are installed by scripts/deps.sh).
//
// Environment (from tests/CMakeLists.txt): SL_SLUICE, SL_SRC, SL_BUILD,
// SL_TEST_TMP, SL_DASHBOARD_BUNDLED.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const CHROMIUM = '/usr/bin/chromium';
const T_START = 60_000; // the job's URL on stderr
const T_PAGE = 90_000; // rates, checkpoints, state changes on the page
const T_EXIT = 60_000; // sluice's exit after the cancel
const T_ALL = 270_000; // the whole test (ctest's TIMEOUT is 300 s)

let passed = 0;
let failed = 0;
const children = new Set();
let browser = null;
let generator = null;

// a failure after which nothing can be checked: ends the test (`await` it)
function fail(msg) {
  console.error(`FAIL: ${msg}`);
  failed++;
  finish();
  return new Promise(() => {});
}

function check(desc, ok, detail) {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${desc}${detail !== undefined ? `: ${detail}` : ''}`);
  }
}

let finishing = false;
async function finish() {
  if (finishing) return;
  finishing = true;
  clearInterval(generator);
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (browser) await browser.close().catch(() => {});
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed || !passed ? 1 : 0);
}

process.on('SIGTERM', () => fail('killed (SIGTERM): time-out?'));
process.on('SIGINT', () => fail('interrupted'));
process.on('unhandledRejection', (e) => fail(`unexpected error: ${e && e.stack ? e.stack : e}`));
process.on('uncaughtException', (e) => fail(`unexpected error: ${e && e.stack ? e.stack : e}`));
setTimeout(() => fail(`the test took longer than ${T_ALL / 1000} s`), T_ALL).unref();

// --- what the test needs, each a loud failure when missing
for (const k of ['SL_SLUICE', 'SL_SRC', 'SL_BUILD', 'SL_TEST_TMP']) {
  if (!process.env[k]) await fail(`${k} is not set (run through ctest: tests/CMakeLists.txt sets it)`);
}
const { SL_SLUICE: SLUICE, SL_SRC: SRC, SL_BUILD: BUILD, SL_TEST_TMP: TMP } = process.env;
if (process.env.SL_DASHBOARD_BUNDLED !== 'ON') {
  await fail('the dashboard was not bundled into this build (no node, or web/node_modules missing when ' +
       'CMake configured): run `npm ci --prefix web` (scripts/deps.sh does), configure and build again');
}
if (!existsSync(CHROMIUM)) await fail(`${CHROMIUM} not found: install Debian's chromium (scripts/deps.sh does)`);
let chromium;
try {
  ({ chromium } = createRequire(join(SRC, 'web', 'package.json'))('playwright-core'));
} catch (e) {
  await fail(`playwright-core not found in ${join(SRC, 'web', 'node_modules')}: run \`npm ci --prefix web\` ` +
       `(scripts/deps.sh does): ${e.message}`);
}

rmSync(TMP, { recursive: true, force: true });
mkdirSync(TMP, { recursive: true });

// --- the job, fed by the generator
const job = spawn(SLUICE, ['run', 'window-agg', '--window', 'tumbling:1s', '--out-of-orderness', '0',
  '-p', '2', '-D', 'rest.port=0', '-D', 'execution.checkpointing.interval=300ms',
  '--checkpoint-dir', join(TMP, 'ck'), '--output', join(TMP, 'out.csv')],
{ stdio: ['pipe', 'ignore', 'pipe'] });
children.add(job);
let stderr = '';
job.stderr.setEncoding('utf8');
job.stderr.on('data', (d) => { stderr += d; });
const exited = new Promise((res) => job.on('exit', (code, signal) => res({ code, signal })));
job.stdin.on('error', () => {}); // EPIPE once the job has stopped reading

let seq = 0;
let stdinFull = false;
job.stdin.on('drain', () => { stdinFull = false; });
generator = setInterval(() => {
  if (stdinFull || job.stdin.destroyed) return;
  const now = Date.now();
  let lines = '';
  for (let i = 0; i < 200; i++, seq++) lines += `${now},k${seq % 10},${seq % 1000}\n`;
  stdinFull = !job.stdin.write(lines);
}, 100);

function within(ms, what, promise) {
  let t;
  return Promise.race([promise.finally(() => clearTimeout(t)),
    new Promise((res, rej) => { t = setTimeout(() => rej(new Error(`${what}: no result in ${ms / 1000} s`)), ms); })]);
}

const url = await within(T_START, 'the REST URL on the job\'s stderr', new Promise((res, rej) => {
  const look = () => {
    const m = stderr.match(/REST API and dashboard at (http:\/\/127\.0\.0\.1:\d+\/)/);
    if (m) res(m[1]);
  };
  job.stderr.on('data', look);
  look();
  exited.then(({ code, signal }) => rej(new Error(`sluice exited (${code ?? signal}) before serving:\n${stderr}`)));
})).catch((e) => fail(`${e.message}\n--- sluice stderr:\n${stderr}`));

// what the REST API says, to compare the page with
async function rest(path) {
  const r = await fetch(new URL(path, url));
  if (!r.ok) throw new Error(`GET ${path}: ${r.status}`);
  return r.json();
}
const jobs = await rest('jobs');
const jid = jobs.jobs && jobs.jobs[0] && jobs.jobs[0].id;
check('GET /jobs names one job', typeof jid === 'string' && jid.length === 32, JSON.stringify(jobs));

// --- the page
browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const foreign = [];
const patches = [];
const scriptErrors = [];
page.on('request', (r) => {
  if (!r.url().startsWith(url) && !r.url().startsWith('data:')) foreign.push(r.url());
  if (r.method() === 'PATCH') patches.push(r.url());
});
page.on('pageerror', (e) => scriptErrors.push(e.message));
const resp = await page.goto(url);
check('GET / answers 200 with HTML', resp && resp.status() === 200 &&
  /text\/html/.test(resp.headers()['content-type'] || ''), resp && `${resp.status()} ${resp.headers()['content-type']}`);
check('the page is the bundled dashboard (not the placeholder)', await page.locator('#operators').count() === 1);

const wait = (what, fn, arg) => within(T_PAGE + 5000, what,
  page.waitForFunction(fn, arg, { timeout: T_PAGE, polling: 200 })).catch((e) => {
  check(what, false, e.message.split('\n')[0]);
  return null;
});

const rates = await wait('an operator row shows a non-zero records/s', () => {
  const rows = [...document.querySelectorAll('#operators tr[data-vertex]')];
  const hot = rows.find((r) => Number(r.dataset.inRate) > 0 || Number(r.dataset.outRate) > 0);
  if (!hot) return null;
  const cell = hot.querySelector(Number(hot.dataset.inRate) > 0 ? '.rate-in' : '.rate-out').textContent;
  return { cell };
});
if (rates) {
  const cell = (await rates.jsonValue()).cell;
  check('the non-zero rate is printed as a number above 0', parseFloat(cell) > 0, cell);
}
const done = await wait('the checkpoint history shows a COMPLETED checkpoint',
  () => document.querySelector('#checkpoint-history tr[data-status="COMPLETED"]') !== null);
if (done) {
  const id = await page.locator('#checkpoint-history tr[data-status="COMPLETED"]').first().getAttribute('data-checkpoint');
  check('a completed checkpoint has a positive id', Number(id) >= 1, id);
}

// the page against the REST answers (vertices and plan do not change)
const jobInfo = await rest(`jobs/${jid}`);
const vids = (jobInfo.vertices || []).map((v) => v.id);
const rowIds = await page.locator('#operators tr[data-vertex]').evaluateAll((rs) => rs.map((r) => r.dataset.vertex));
check('one operator row per vertex, in order', vids.length > 0 && JSON.stringify(rowIds) === JSON.stringify(vids),
  `rows ${JSON.stringify(rowIds)} vs vertices ${JSON.stringify(vids)}`);
const nodes = (jobInfo.plan && jobInfo.plan.nodes) || [];
const edges = nodes.reduce((n, x) => n + (x.inputs || []).length, 0);
check('the job graph has a box per plan node', await page.locator('#graph g.g-node').count() === nodes.length && nodes.length > 0,
  `${await page.locator('#graph g.g-node').count()} boxes, ${nodes.length} nodes`);
check('the job graph has an arrow per input', await page.locator('#graph g.g-edge').count() === edges,
  `${await page.locator('#graph g.g-edge').count()} arrows, ${edges} inputs`);
check('the header names the job', (await page.locator('#job-name').textContent()) === jobInfo.name, jobInfo.name);
check('the header shows the job id', (await page.locator('#job-id').textContent()) === jid);
check('the header says RUNNING', (await page.locator('#job-state').textContent()) === 'RUNNING');

// the charts accumulate what the polls bring (one throughput point a poll)
await wait('the throughput chart draws 5 points and the checkpoint chart 2', () =>
  Number(document.querySelector('#chart-throughput').dataset.points) >= 5 &&
  Number(document.querySelector('#chart-checkpoints').dataset.points) >= 2);

const shot = join(BUILD, 'dashboard.png');
await page.screenshot({ path: shot, fullPage: true });
check('screenshot saved', existsSync(shot), shot);

// --- cancel: the first click arms the button, the second sends the PATCH
const patched = page.waitForRequest((r) => r.method() === 'PATCH', { timeout: T_PAGE }).catch(() => null);
await page.click('#cancel');
check('the first click asks for a second', (await page.locator('#cancel').getAttribute('data-armed')) === 'true');
check('the first click sends nothing', patches.length === 0, patches.join(' '));
await page.click('#cancel');
const req = await patched;
check('the second click sends PATCH jobs/:jid?mode=cancel', req && req.url() === `${url}jobs/${jid}?mode=cancel`,
  req && req.url());
await wait('the page says CANCELLING or CANCELED after the click',
  () => ['CANCELLING', 'CANCELED'].includes(document.body.dataset.state));

const how = await within(T_EXIT, 'sluice\'s exit after the cancel', exited).catch((e) => ({ error: e.message }));
check('sluice run exits with 130 (cancelled) after the cancel', how.code === 130,
  `${JSON.stringify(how)}\n--- sluice stderr:\n${stderr.slice(-2000)}`);
check('sluice says it stopped', /window-agg: stopped/.test(stderr), stderr.slice(-600));
await wait('the page says the job was cancelled once its server is gone',
  () => document.body.dataset.state === 'CANCELED');
check('the page loaded nothing from elsewhere', foreign.length === 0, foreign.join(' '));
check('no script error on the page', scriptErrors.length === 0, scriptErrors.join('\n'));
writeFileSync(join(TMP, 'stderr.txt'), stderr);
finish();
