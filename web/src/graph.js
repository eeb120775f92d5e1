// graph.js -- the job graph as an SVG drawing: the plan's nodes in layers
// (a node's layer is the longest path to it from a source), left to
// right, one box per operator with its name and parallelism, an arrow per
// input labelled with its ship strategy (FORWARD, HASH, ...).  A box's
// colour follows the operator's busy / backpressured level, updated on
// every poll without redrawing the layout.

const SVG = 'http://www.w3.org/2000/svg'; // the SVG namespace name, not a URL that is fetched
const BOX_W = 190;
const BOX_H = 54;
const GAP_X = 90;
const GAP_Y = 26;
const PAD = 14;

function el(name, attrs, text) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// nodes: [{id, inputs: [{id}]}] -> Map id -> layer (0 for sources).
// Inputs that name no node are ignored; a cycle (never in a valid plan)
// cannot loop: a node's layer is at most the number of nodes.
export function layers(nodes) {
  const ids = new Set(nodes.map((n) => n.id));
  const layer = new Map(nodes.map((n) => [n.id, 0]));
  for (let round = 0; round < nodes.length; round++) {
    let changed = false;
    for (const n of nodes) {
      for (const i of n.inputs || []) {
        if (!ids.has(i.id)) continue;
        const want = layer.get(i.id) + 1;
        if (want > layer.get(n.id) && want <= nodes.length) {
          layer.set(n.id, want);
          changed = true;
        }
      }
    }
    if (!changed) break;
  }
  return layer;
}

function shorten(s, n) {
  return s.length > n ? s.slice(0, n - 1) + '\u2026' : s;
}

// Draws `plan.nodes` into the <svg> `svg`; names: Map vid -> display name.
export function drawGraph(svg, nodes, names) {
  svg.replaceChildren();
  if (!nodes.length) {
    svg.setAttribute('viewBox', '0 0 300 40');
    svg.setAttribute('height', 40);
    svg.style.maxWidth = '300px';
    svg.append(el('text', { x: 10, y: 24, class: 'g-empty' }, 'no plan'));
    return;
  }
  const layer = layers(nodes);
  const cols = [];
  for (const n of nodes) {
    const l = layer.get(n.id);
    (cols[l] = cols[l] || []).push(n);
  }
  const rows = Math.max(...cols.map((c) => (c ? c.length : 0)));
  const height = PAD * 2 + rows * BOX_H + (rows - 1) * GAP_Y;
  const width = PAD * 2 + cols.length * BOX_W + (cols.length - 1) * GAP_X;
  const pos = new Map();
  cols.forEach((col, l) => {
    if (!col) return;
    const top = PAD + (height - 2 * PAD - (col.length * BOX_H + (col.length - 1) * GAP_Y)) / 2;
    col.forEach((n, r) => pos.set(n.id, { x: PAD + l * (BOX_W + GAP_X), y: top + r * (BOX_H + GAP_Y) }));
  });
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('height', height);
  svg.style.maxWidth = `${width}px`;

  const defs = el('defs');
  const marker = el('marker', {
    id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5,
    markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse',
  });
  marker.append(el('path', { d: 'M 0 0 L 10 5 L 0 10 z', class: 'g-arrowhead' }));
  defs.append(marker);
  svg.append(defs);

  for (const n of nodes) {
    const to = pos.get(n.id);
    for (const i of n.inputs || []) {
      const from = pos.get(i.id);
      if (!from) continue;
      const x1 = from.x + BOX_W;
      const y1 = from.y + BOX_H / 2;
      const x2 = to.x;
      const y2 = to.y + BOX_H / 2;
      const mx = (x1 + x2) / 2;
      const g = el('g', { class: 'g-edge', 'data-from': i.id, 'data-to': n.id });
      g.append(el('path', {
        d: `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`,
        'marker-end': 'url(#arrow)',
      }));
      const label = el('text', { x: mx, y: (y1 + y2) / 2 - 5, 'text-anchor': 'middle' },
        String(i.ship_strategy || ''));
      g.append(label);
      svg.append(g);
    }
  }
  for (const n of nodes) {
    const p = pos.get(n.id);
    const g = el('g', { class: 'g-node', 'data-vertex': n.id, transform: `translate(${p.x},${p.y})` });
    const name = names.get(n.id) || n.description || n.operator || n.id;
    g.append(el('title', {}, name));
    g.append(el('rect', { width: BOX_W, height: BOX_H, rx: 6 }));
    g.append(el('text', { x: 10, y: 22, class: 'g-name' }, shorten(String(name), 24)));
    const par = typeof n.parallelism === 'number' ? n.parallelism : '?';
    g.append(el('text', { x: 10, y: 42, class: 'g-par' }, `Parallelism: ${par}`));
    svg.append(g);
  }
}

// Colours each box by its operator's level ("ok", "warn", "bad", "none").
export function colourGraph(svg, levels) {
  for (const g of svg.querySelectorAll('g.g-node')) {
    g.setAttribute('data-level', levels.get(g.getAttribute('data-vertex')) || 'none');
  }
}
