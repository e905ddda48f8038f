// The per-layer chart (inline SVG, no library) and its table of numbers.

const NS = "http://www.w3.org/2000/svg";
let W = 640; // the drawing's width follows the box, so text keeps its size on a phone
const H = 260;
const M = { left: 52, right: 10, top: 12, bottom: 40 };

function el(name, attrs, parent) {
  const node = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (parent) parent.appendChild(node);
  return node;
}

function fmt(x) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "—";
  const a = Math.abs(x);
  if (a !== 0 && (a < 0.001 || a >= 10000)) return x.toExponential(2);
  return x.toFixed(a < 1 ? 4 : a < 100 ? 3 : 1);
}

function niceStep(span) {
  const raw = span / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  const f = raw / p;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

function clear(svg) {
  for (const node of [...svg.childNodes]) {
    if (node.nodeName !== "title" && node.nodeName !== "desc") svg.removeChild(node);
  }
}

export function resetChart(svg, table, message) {
  clear(svg);
  svg.querySelector("desc").textContent = message;
  table.querySelector("tbody").replaceChildren();
  svg.removeAttribute("data-layers");
}

// perLayer: the response's shiftdc.per_layer block.
export function drawChart(svg, perLayer) {
  clear(svg);
  W = Math.round(Math.max(300, Math.min(640, svg.clientWidth || 640)));
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  const n = perLayer.num_layers;
  const shift = perLayer.shift_along_s;
  const corr = perLayer.correction_along_s;
  const cal = new Set(perLayer.calibrated);
  const values = [...shift, ...corr, 0].filter(Number.isFinite);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (hi - lo < 1e-12) {
    hi += 1;
    lo -= 1;
  }
  const step = niceStep(hi - lo);
  lo = Math.floor(lo / step) * step;
  hi = Math.ceil(hi / step) * step;
  const plotW = W - M.left - M.right;
  const plotH = H - M.top - M.bottom;
  const band = plotW / n;
  const y = (v) => M.top + ((hi - v) / (hi - lo)) * plotH;
  const grid = el("g", { class: "grid" }, svg);
  for (let v = lo; v <= hi + step / 2; v += step) {
    el("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v) }, grid);
    const label = el("text", { x: M.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, grid);
    const digits = Math.max(0, -Math.floor(Math.log10(step)));
    label.textContent = (Math.abs(v) < step / 1e6 ? 0 : v).toFixed(digits);
  }
  const marks = el("g", { class: "cal-marks" }, svg);
  const bars = el("g", { class: "bars" }, svg);
  const labelEvery = Math.max(1, Math.ceil(n / Math.floor(plotW / 34))); // ~34 px per label
  for (let l = 0; l < n; l += 1) {
    const x0 = M.left + l * band;
    if (cal.has(l)) {
      el("rect", { x: x0, y: M.top, width: band, height: plotH, class: "cal-band" }, marks);
      el("rect", { x: x0 + 1, y: H - M.bottom + 2, width: Math.max(band - 2, 1), height: 5, class: "cal-tick" }, marks);
    }
    const g = el("g", { class: "layer", "data-layer": l, "data-shift": shift[l], "data-correction": corr[l] }, bars);
    const tip = el("title", {}, g);
    tip.textContent = `layer ${l}${cal.has(l) ? " (calibrated)" : ""}: shift along s ${fmt(shift[l])}, correction along s ${fmt(corr[l])}`;
    const w = Math.max((band * 0.8) / 2, 0.5);
    [[shift[l], "shift"], [corr[l], "corr"]].forEach(([v, cls], i) => {
      if (!Number.isFinite(v)) return;
      const top = Math.min(y(v), y(0));
      el("rect", { x: x0 + band * 0.1 + i * w, y: top, width: w, height: Math.max(Math.abs(y(v) - y(0)), 0.5), class: `bar ${cls}` }, g);
    });
    if (l % labelEvery === 0) {
      const t = el("text", { x: x0 + band / 2, y: H - M.bottom + 20, class: "tick", "text-anchor": "middle" }, svg);
      t.textContent = String(l);
    }
  }
  el("line", { x1: M.left, x2: W - M.right, y1: y(0), y2: y(0), class: "zero" }, svg);
  const xl = el("text", { x: M.left + plotW / 2, y: H - 4, class: "axis", "text-anchor": "middle" }, svg);
  xl.textContent = "decoder layer";
  svg.setAttribute("data-layers", String(n));
  svg.querySelector("desc").textContent = describe(perLayer);
}

function describe(p) {
  let top = 0;
  p.shift_along_s.forEach((v, l) => {
    if (Math.abs(v) > Math.abs(p.shift_along_s[top])) top = l;
  });
  const cal = p.calibrated;
  const span = cal.length ? `layers ${cal[0]} to ${cal[cal.length - 1]}` : "no layer";
  return `${p.num_layers} layers. The largest shift along s is ${fmt(p.shift_along_s[top])} at layer ${top}. ShiftDC corrected ${span}. The table below lists every value.`;
}

export function fillTable(table, p) {
  const cal = new Set(p.calibrated);
  const rows = [];
  for (let l = 0; l < p.num_layers; l += 1) {
    const tr = document.createElement("tr");
    tr.dataset.layer = String(l);
    if (cal.has(l)) tr.className = "cal";
    const cells = [String(l), cal.has(l) ? "yes" : "no", fmt(p.shift_along_s[l]), fmt(p.shift_norm[l]),
      fmt(p.correction_along_s[l]), fmt(p.correction_norm[l])];
    cells.forEach((text, i) => {
      const td = document.createElement(i === 0 ? "th" : "td");
      if (i === 0) td.scope = "row";
      td.textContent = text;
      tr.appendChild(td);
    });
    rows.push(tr);
  }
  table.querySelector("tbody").replaceChildren(...rows);
}
