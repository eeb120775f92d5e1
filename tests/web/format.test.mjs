// format.test.mjs -- the dashboard's formatting and graph-layout helpers
// (web/src/format.js, web/src/graph.js), under node's test runner
// (ctest web_format).  Expected strings worked out by hand.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as f from '../../web/src/format.js';
import { layers } from '../../web/src/graph.js';

test('count', () => {
  assert.equal(f.count(0), '0');
  assert.equal(f.count(12), '12');
  assert.equal(f.count(12.34), '12.3');
  assert.equal(f.count(999), '999');
  assert.equal(f.count(1500), '1.50k');
  assert.equal(f.count(23456), '23.5k');
  assert.equal(f.count(2350000), '2.35M');
  assert.equal(f.count(null), '\u2014');
  assert.equal(f.count(undefined), '\u2014');
  assert.equal(f.count('7'), '\u2014');
});

test('duration', () => {
  assert.equal(f.duration(0), '0 ms');
  assert.equal(f.duration(850), '850 ms');
  assert.equal(f.duration(1250), '1.25 s');
  assert.equal(f.duration(12500), '12.5 s');
  assert.equal(f.duration(200000), '3 min 20 s');
  assert.equal(f.duration(7500000), '2 h 5 min');
  assert.equal(f.duration(90000000), '1 d 1 h');
  assert.equal(f.duration(-1), '\u2014');
  assert.equal(f.duration(null), '\u2014');
});

test('bytes', () => {
  assert.equal(f.bytes(512), '512 B');
  assert.equal(f.bytes(1536), '1.50 KiB');
  assert.equal(f.bytes(3355443), '3.20 MiB');
  assert.equal(f.bytes(undefined), '\u2014');
});

test('ratio: Flink colours, under 10 % ok, under 50 % warn, else bad', () => {
  assert.deepEqual(f.ratio(0), { text: '0%', level: 'ok', value: 0 });
  assert.deepEqual(f.ratio(99), { text: '10%', level: 'ok', value: 0.099 });
  assert.deepEqual(f.ratio(100), { text: '10%', level: 'warn', value: 0.1 });
  assert.deepEqual(f.ratio(499), { text: '50%', level: 'warn', value: 0.499 });
  assert.deepEqual(f.ratio(500), { text: '50%', level: 'bad', value: 0.5 });
  assert.deepEqual(f.ratio(1200), { text: '100%', level: 'bad', value: 1 });
  assert.equal(f.ratio(null).level, 'none');
});

test('watermarks: null, missing and Long.MIN_VALUE are none; lag behind now', () => {
  assert.deepEqual(f.watermarkLag(null, 1000), { none: true, text: 'no watermark', full: '', lag: '\u2014' });
  assert.equal(f.watermarkLag(undefined, 1000).none, true);
  assert.equal(f.watermarkLag(-9223372036854775808, 1000).none, true);
  // 2026-11-30 09:00:00.250 UTC = 1796029200250 ms (20787 days and 9 h)
  assert.deepEqual(f.watermarkLag(1796029200250, 1796029201500),
    { none: false, text: '09:00:00.250', full: '2026-11-30 09:00:00.250', lag: '1.25 s' });
  assert.equal(f.watermarkLag(1796029200250, null).lag, '\u2014');
  assert.equal(f.timestamp(0), '1970-01-01 00:00:00.000');
});

test('graph layers: longest path from a source', () => {
  // a -> b -> d, a -> c -> d, c -> e; x names an unknown input
  const nodes = [
    { id: 'd', inputs: [{ id: 'b' }, { id: 'c' }] },
    { id: 'a', inputs: [] },
    { id: 'e', inputs: [{ id: 'c' }, { id: 'x' }] },
    { id: 'b', inputs: [{ id: 'a' }] },
    { id: 'c', inputs: [{ id: 'b' }] },
  ];
  assert.deepEqual(Object.fromEntries(layers(nodes)), { a: 0, b: 1, c: 2, d: 3, e: 3 });
  assert.deepEqual(Object.fromEntries(layers([{ id: 'p' }])), { p: 0 });
  // a cycle (never in a valid plan) ends
  const cyc = layers([{ id: 'p', inputs: [{ id: 'q' }] }, { id: 'q', inputs: [{ id: 'p' }] }]);
  assert.ok(cyc.get('p') <= 2 && cyc.get('q') <= 2);
});
