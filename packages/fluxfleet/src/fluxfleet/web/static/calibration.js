// Calibration page: fleet spread over time and against concentration (before/after the
// recalibration), and the reference comparison (scatter with the ±15 % band, OLS and
// Deming lines, Bland–Altman), all from /api/calibration/*.
"use strict";
(function () {
  const session = JSON.parse(document.getElementById("session").textContent);
  const q = new URLSearchParams(session);
  const colours = { before: "#b2182b", after: "#2166ac", session: "#24513a" };
  for (const fmt of ["csv", "parquet"]) {
    const e = new URLSearchParams(q); e.set("format", fmt);
    const a = document.getElementById("export-spread-" + fmt); if (a) a.href = "/api/calibration/spread?" + e;
  }
  const jobs = [];
  if (session.from) {
    jobs.push(fetch("/api/calibration/spread?" + q).then((r) => r.json()).then((rows) => {
      const periods = [...new Set(rows.map((r) => r.period))];
      svgPlot(document.getElementById("spread-time"), {
        time: true, xlabel: "time [UTC]", ylabel: "sd across sensors [µmol mol⁻¹]",
        series: periods.map((p) => ({ kind: "line", label: p, colour: colours[p], cls: "spread-" + p,
          x: rows.filter((r) => r.period === p).map((r) => Date.parse(r.time) / 1000),
          y: rows.filter((r) => r.period === p).map((r) => r.co2_sd_ppm) })),
      });
      svgPlot(document.getElementById("spread-conc"), {
        xlabel: "fleet mean CO₂ [µmol mol⁻¹]", ylabel: "sd across sensors [µmol mol⁻¹]",
        series: periods.map((p) => ({ kind: "points", label: p, colour: colours[p],
          x: rows.filter((r) => r.period === p).map((r) => r.co2_mean_ppm),
          y: rows.filter((r) => r.period === p).map((r) => r.co2_sd_ppm) })),
      });
      const sd = (p) => { const v = rows.filter((r) => r.period === p && r.co2_sd_ppm !== null).map((r) => r.co2_sd_ppm);
        return v.length ? Math.sqrt(v.reduce((a, b) => a + b * b, 0) / v.length).toFixed(1) : "–"; };
      for (const p of ["before", "after", "session"]) { const e = document.getElementById("sd-" + p); if (e) e.textContent = sd(p); }
      document.getElementById("n-bins").textContent = String(rows.length);
    }));
  }
  jobs.push(fetch("/api/calibration/reference").then((r) => r.json()).then((body) => {
    const pairs = body.pairs, a = body.agreement;
    const tbody = document.querySelector("#pairs tbody");
    for (const p of pairs) {
      const tr = document.createElement("tr");
      for (const v of [p.location, p.source, p.closure_id, p.time_reference.slice(0, 19).replace("T", " "), p.device, p.cyc,
        p.gap_s.toFixed(0), p.flux_reference_umol_m2_s.toFixed(3), p.flux_fleet_umol_m2_s.toFixed(3)]) {
        const td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      }
      tbody.appendChild(tr);
    }
    if (pairs.length === 0) return;
    const x = pairs.map((p) => p.flux_reference_umol_m2_s), y = pairs.map((p) => p.flux_fleet_umol_m2_s);
    const lo = Math.min(0, ...x, ...y), hi = Math.max(...x, ...y) * 1.05;
    const line = (fit) => (fit && fit.slope !== undefined ? [lo, hi].map((v) => fit.intercept + fit.slope * v) : null);
    const series = [{ kind: "points", x, y, label: "closures", cls: "pair" },
      { kind: "line", x: [lo, hi], y: [lo, hi], colour: "#444", dash: "4 3", label: "1:1" }];
    if (line(a.ols)) series.push({ kind: "line", x: [lo, hi], y: line(a.ols), colour: "#e08214", label: "OLS", cls: "fit-ols" });
    if (line(a.deming)) series.push({ kind: "line", x: [lo, hi], y: line(a.deming), colour: "#762a83", label: "Deming", cls: "fit-deming" });
    svgPlot(document.getElementById("scatter"), {
      xlabel: "reference flux [µmol m⁻² s⁻¹]", ylabel: "chamber flux [µmol m⁻² s⁻¹]", xlim: [lo, hi], ylim: [lo, hi],
      // the band between 0.85 and 1.15 × reference, cut at the plot's top
      polygons: [{ x: [lo, hi, hi, hi / 1.15, lo], y: [lo * 0.85, hi * 0.85, hi, hi, lo * 1.15], fill: "#dde8dd", cls: "band" }], series,
    });
    const ba = a.bland_altman_umol_m2_s;
    if (ba) {
      const m = x.map((v, i) => (v + y[i]) / 2), d = x.map((v, i) => y[i] - v);
      const e = [Math.min(...m), Math.max(...m)];
      svgPlot(document.getElementById("bland-altman"), {
        xlabel: "mean of chamber and reference [µmol m⁻² s⁻¹]", ylabel: "chamber − reference [µmol m⁻² s⁻¹]",
        series: [{ kind: "points", x: m, y: d, cls: "ba-point" },
          { kind: "line", x: e, y: [ba.bias, ba.bias], colour: "#2166ac", label: "bias", cls: "ba-bias" },
          { kind: "line", x: e, y: [ba.loa_low, ba.loa_low], colour: "#b2182b", dash: "5 3", label: "limits of agreement" },
          { kind: "line", x: e, y: [ba.loa_high, ba.loa_high], colour: "#b2182b", dash: "5 3" }],
      });
    }
  }));
  Promise.all(jobs).then(() => { document.body.dataset.loaded = "true"; });
})();
