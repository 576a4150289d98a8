// Closure page: the samples of one closure, its fit window and the line fitted over it.
"use strict";
(function () {
  const device = document.getElementById("device").textContent;
  const cyc = document.getElementById("cyc").textContent;
  fetch("/api/closures/" + encodeURIComponent(device) + "/" + cyc).then((r) => r.json()).then((body) => {
    const c = body.closure, s = body.samples;
    const dl = document.getElementById("summary");
    const items = [["location", c.location], ["flux [µmol m⁻² s⁻¹]", c.flux_umol_m2_s],
      ["flux SE [µmol m⁻² s⁻¹]", c.flux_se_umol_m2_s], ["model", c.model], ["QC flags", c.flags || "none"],
      ["fit window", c.fit_start ? c.fit_start + " … " + c.fit_end : "–"], ["samples fitted (soilflux)", c.n_fit],
      ["samples", s.length], ["line slope [µmol mol⁻¹ s⁻¹]", c.fit_slope_ppm_s]];
    for (const [k, v] of items) {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd"); dd.textContent = v === null || v === undefined ? "–" : String(v);
      dd.dataset.key = k; dl.append(dt, dd);
    }
    const t = s.map((x) => Date.parse(x.time) / 1000);
    const all = s.map((x) => x.co2_ppm);
    const fit = s.map((x) => (x.in_fit ? x.co2_ppm : null));
    const t0 = c.fit_start ? Date.parse(c.fit_start) / 1000 : null;
    const line = s.map((x, i) => (x.in_fit && c.fit_slope_ppm_s !== undefined
      ? c.fit_intercept_ppm + c.fit_slope_ppm_s * (t[i] - t0) : null));
    new uPlot({
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),  // axes in UTC
      width: Math.min(1000, window.innerWidth - 40), height: 360,
      series: [{}, { label: "CO₂ [µmol mol⁻¹]", stroke: "#999", points: { show: true } },
        { label: "fit window", stroke: "#1b7837", width: 0, points: { show: true, fill: "#1b7837" } },
        { label: "fitted line", stroke: "#b2182b", width: 2 }],
      axes: [{}, { label: "CO₂ [µmol mol⁻¹]" }],
    }, [t, all, fit, line], document.getElementById("chart"));
    document.body.dataset.loaded = "true";
  });
})();

// Every model of the closure, recomputed by the server: samples, dead band, fit window,
// each model's curve (the selected one thick) and a table of fluxes and SEs.
(function () {
  const device = document.getElementById("device").textContent;
  const cyc = document.getElementById("cyc").textContent;
  const status = document.getElementById("models-status");
  const colours = { linear: "#1f77b4", robust: "#ff7f0e", exp: "#2ca02c", hm: "#9467bd",
    quadratic: "#8c564b", hm_shared: "#d62728", hm_averaged: "#e377c2" };
  const fmt = (v) => (v === null || v === undefined ? "–" : v.toFixed(4));
  fetch("/api/closures/" + encodeURIComponent(device) + "/" + cyc + "/models").then((r) => {
    if (!r.ok) return r.json().then((b) => { throw new Error(b.detail || r.statusText); });
    return r.json();
  }).then((m) => {
    const s = m.samples, grid = m.curve_elapsed_s;
    const ys = s.map((x) => x.co2_dry_ppm).filter((v) => v !== null);
    const lo = Math.min(...ys), hi = Math.max(...ys);
    const band = (x0, x1) => ({ x: [x0, x1, x1, x0], y: [lo, lo, hi, hi] });
    const polygons = [];
    if (m.deadband_s > 0) polygons.push(Object.assign(band(0, m.deadband_s), { fill: "#ddd", cls: "deadband" }));
    if (m.fit_end_s !== null) polygons.push(Object.assign(band(m.deadband_s, m.fit_end_s), { fill: "#e8f0fb", cls: "fit-window" }));
    const series = [
      { x: s.filter((x) => !x.in_fit).map((x) => x.elapsed_s), y: s.filter((x) => !x.in_fit).map((x) => x.co2_dry_ppm), kind: "points", colour: "#aaa", cls: "sample" },
      { x: s.filter((x) => x.in_fit).map((x) => x.elapsed_s), y: s.filter((x) => x.in_fit).map((x) => x.co2_dry_ppm), kind: "points", colour: "#222", label: "samples in the fit window", cls: "sample in-fit" },
    ];
    const tbody = document.querySelector("#models tbody");
    for (const model of m.models) {
      if (model.co2_dry_ppm) {
        series.push({ x: grid, y: model.co2_dry_ppm, kind: "line", colour: colours[model.model] || "#000",
          width: model.selected ? 3.5 : 1.3, dash: model.selected ? "" : "4 2",
          label: model.model + " " + fmt(model.flux_umol_m2_s) + " ± " + fmt(model.flux_se_umol_m2_s) + (model.selected ? "  ← selected" : ""),
          cls: "curve model-" + model.model + (model.selected ? " selected" : "") });
      }
      const tr = document.createElement("tr");
      tr.dataset.model = model.model;
      if (model.selected) tr.className = "selected";
      for (const [cls, v] of [["model", model.model], ["flux", fmt(model.flux_umol_m2_s)],
        ["se", fmt(model.flux_se_umol_m2_s)], ["selected", model.selected ? "✔ selected" : ""],]) {
        const td = document.createElement("td"); td.className = cls; td.textContent = v; tr.append(td);
      }
      tbody.append(tr);
    }
    svgPlot(document.getElementById("models-chart"), { series, polygons,
      xlabel: "time since the lid closed [s]", ylabel: "dry CO₂ C′ [µmol mol⁻¹]" });
    status.textContent = "selected " + m.selected_model + ": " + fmt(m.flux_umol_m2_s) + " ± "
      + fmt(m.flux_se_umol_m2_s) + " µmol m⁻² s⁻¹ (stored: " + fmt(m.stored_flux_umol_m2_s)
      + ", " + (m.stored_model || "–") + "); dead band " + m.deadband_s + " s, fit window to " + m.fit_end_s + " s";
    status.dataset.selectedFlux = String(m.flux_umol_m2_s);
    document.body.dataset.modelsLoaded = "true";
  }).catch((e) => { status.textContent = "models: " + e.message; document.body.dataset.modelsLoaded = "error"; });
})();
