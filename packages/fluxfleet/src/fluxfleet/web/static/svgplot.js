// A small SVG plotter for the analysis pages (scatter, lines, bands; no external assets):
// svgPlot(element, {series: [{x: [], y: [], kind: "points"|"line", colour, label, cls}],
//   polygons: [{x: [], y: [], fill}], xlabel, ylabel, time: bool}).
"use strict";
window.svgPlot = function (el, spec) {
  const W = Math.min(760, window.innerWidth - 40), H = 320, L = 64, R = 16, T = 16, B = 44;
  const ns = "http://www.w3.org/2000/svg";
  const all = (k) => spec.series.concat(spec.polygons || []).flatMap((s) => s[k]).filter((v) => v !== null && isFinite(v));
  let xs = all("x"), ys = all("y");
  if (!xs.length) { el.textContent = "no data"; return null; }
  const span = (v) => { let lo = Math.min(...v), hi = Math.max(...v); if (lo === hi) { lo -= 1; hi += 1; } const p = 0.04 * (hi - lo); return [lo - p, hi + p]; };
  const [x0, x1] = spec.xlim || span(xs), [y0, y1] = spec.ylim || span(ys);
  const px = (v) => L + (v - x0) / (x1 - x0) * (W - L - R), py = (v) => H - B - (v - y0) / (y1 - y0) * (H - T - B);
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", W); svg.setAttribute("height", H); svg.setAttribute("class", "chart");
  const add = (tag, attrs, text) => { const e = document.createElementNS(ns, tag); for (const k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; svg.appendChild(e); return e; };
  const clip = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  for (const p of spec.polygons || []) {
    const pts = p.x.map((x, i) => clip(px(x), L, W - R) + "," + clip(py(p.y[i]), T, H - B)).join(" ");
    add("polygon", { points: pts, fill: p.fill || "#dde8dd", class: p.cls || "" });
  }
  const fmt = (v) => spec.time ? new Date(v * 1000).toISOString().slice(11, 16) : Math.abs(v) >= 1000 ? v.toFixed(0) : +v.toPrecision(3);
  for (let i = 0; i <= 4; i++) {
    const xv = x0 + (x1 - x0) * (i + 0.5) / 5, yv = y0 + (y1 - y0) * (i + 0.5) / 5;
    add("text", { x: px(xv), y: H - B + 16, "font-size": 11, "text-anchor": "middle" }, fmt(xv));
    add("text", { x: L - 4, y: py(yv) + 4, "font-size": 11, "text-anchor": "end" }, +yv.toPrecision(3));
  }
  add("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, stroke: "#444" });
  add("line", { x1: L, x2: L, y1: T, y2: H - B, stroke: "#444" });
  add("text", { x: (L + W - R) / 2, y: H - 6, "font-size": 12, "text-anchor": "middle" }, spec.xlabel || "");
  add("text", { x: 12, y: (T + H - B) / 2, "font-size": 12, "text-anchor": "middle", transform: `rotate(-90 12 ${(T + H - B) / 2})` }, spec.ylabel || "");
  let ly = T + 4;
  for (const s of spec.series) {
    const c = s.colour || "#24513a";
    if (s.kind === "line") {
      const pts = s.x.map((x, i) => [x, s.y[i]]).filter(([x, y]) => x !== null && y !== null && isFinite(x) && isFinite(y));
      add("polyline", { points: pts.map(([x, y]) => clip(px(x), L, W - R) + "," + clip(py(y), T, H - B)).join(" "), fill: "none", stroke: c, "stroke-width": s.width || 1.5, "stroke-dasharray": s.dash || "", class: s.cls || "" });
    } else {
      s.x.forEach((x, i) => { const y = s.y[i]; if (x !== null && y !== null && isFinite(x) && isFinite(y)) add("circle", { cx: px(x), cy: py(y), r: 3.5, fill: c, class: s.cls || "point" }); });
    }
    if (s.label) { add("rect", { x: L + 10, y: ly - 8, width: 10, height: 10, fill: c }); add("text", { x: L + 25, y: ly + 1, "font-size": 11 }, s.label); ly += 15; }
  }
  el.appendChild(svg);
  return svg;
};
