// charts.js -- the two live charts (uPlot): the job's throughput in and
// out (records/s, one point per poll, the last WINDOW_S seconds kept in
// the page) and each completed checkpoint's duration (by checkpoint id,
// the last MAX_CHECKPOINTS seen).  The data lives here, accumulated
// across polls; the REST API gives only the current rates.

import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { count, duration } from './format.js';

const WINDOW_S = 300;
const MAX_CHECKPOINTS = 100;

function width(node) {
  return Math.max(node.clientWidth - 8, 240);
}

export class Charts {
  constructor(throughputNode, checkpointNode) {
    this.tNode = throughputNode;
    this.cNode = checkpointNode;
    this.t = [[], [], []]; // seconds, in/s, out/s
    this.ckpts = new Map(); // id -> duration ms
    this.throughput = new uPlot({
      width: width(throughputNode), height: 200,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(max * 1.1, 1)] } },
      axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => count(v)) }],
      series: [
        {},
        { label: 'in (records/s)', stroke: '#1f77b4', width: 2, value: (u, v) => count(v) },
        { label: 'out (records/s)', stroke: '#2ca02c', width: 2, value: (u, v) => count(v) },
      ],
    }, this.t, throughputNode);
    this.checkpoint = new uPlot({
      width: width(checkpointNode), height: 200,
      scales: { x: { time: false, range: (u, min, max) => [min ?? 0, Math.max(max ?? 1, (min ?? 0) + 1)] },
                y: { range: (u, min, max) => [0, Math.max(max * 1.1, 10)] } },
      axes: [{ label: 'checkpoint', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { size: 60, values: (u, vals) => vals.map((v) => duration(v)) }],
      series: [
        { label: 'checkpoint', value: (u, v) => (v == null ? '\u2014' : `#${v}`) },
        { label: 'duration', stroke: '#9467bd', width: 2, points: { show: true },
          value: (u, v) => duration(v) },
      ],
    }, [[], []], checkpointNode);
    window.addEventListener('resize', () => this.resize());
  }

  resize() {
    this.throughput.setSize({ width: width(this.tNode), height: 200 });
    this.checkpoint.setSize({ width: width(this.cNode), height: 200 });
  }

  // one throughput sample at epoch ms `at` (null rates are drawn as gaps)
  addThroughput(at, inRate, outRate) {
    const s = at / 1000;
    const [xs, ins, outs] = this.t;
    xs.push(s);
    ins.push(inRate);
    outs.push(outRate);
    while (xs.length && xs[0] < s - WINDOW_S) {
      xs.shift();
      ins.shift();
      outs.shift();
    }
    // at least the last minute, so that the first point is not a day wide
    this.throughput.setData(this.t, false);
    this.throughput.setScale('x', { min: Math.min(xs[0], s - 60), max: s });
    this.tNode.dataset.points = String(xs.length);
  }

  // the checkpoint history of one poll: completed ones join the chart
  addCheckpoints(history) {
    let changed = false;
    for (const c of history) {
      if (!c || c.status !== 'COMPLETED' || typeof c.id !== 'number') continue;
      if (typeof c.end_to_end_duration !== 'number' || this.ckpts.has(c.id)) continue;
      this.ckpts.set(c.id, c.end_to_end_duration);
      changed = true;
    }
    if (!changed) return;
    const ids = [...this.ckpts.keys()].sort((a, b) => a - b);
    for (const id of ids.slice(0, Math.max(ids.length - MAX_CHECKPOINTS, 0))) this.ckpts.delete(id);
    const kept = ids.slice(-MAX_CHECKPOINTS);
    this.checkpoint.setData([kept, kept.map((id) => this.ckpts.get(id))]);
    this.cNode.dataset.points = String(kept.length);
  }
}
