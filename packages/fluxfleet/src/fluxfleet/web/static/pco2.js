// Soil pCO2 page: one scatter per table (daily flux against daily soil pCO2) with the
// fitted Fick line, from /api/pco2 and the fits the page was rendered with.
"use strict";
(function () {
  const fits = JSON.parse(document.getElementById("fit-data").textContent);
  const by = JSON.parse(document.getElementById("by").textContent);
  fetch("/api/pco2?by=" + by).then((r) => r.json()).then((rows) => {
    const plots = document.getElementById("plots");
    const tables = [...new Set(rows.map((r) => r.table))].sort();
    for (const t of tables) {
      const g = rows.filter((r) => r.table === t);
      const div = document.createElement("div");
      div.className = "pco2-table"; div.dataset.table = t;
      const h = document.createElement("h2"); h.textContent = "Table " + t; div.appendChild(h);
      plots.appendChild(div);
      const x = g.map((r) => r.pco2_ppm), y = g.map((r) => r.flux_umol_m2_s);
      const series = [{ kind: "points", x, y, cls: "pair", label: "daily means" }];
      const f = fits.find((f) => f.table === t);
      if (f) {
        const e = [Math.min(...x), Math.max(...x)];
        series.push({ kind: "line", x: e, y: e.map((v) => f.intercept_umol_m2_s + f.slope_umol_m2_s_per_ppm * v),
          colour: "#e08214", label: "Fick line (OLS)", cls: "fit" });
      }
      svgPlot(div, { xlabel: "soil pCO₂ [µmol mol⁻¹]", ylabel: "flux [µmol m⁻² s⁻¹]", series });
    }
    document.body.dataset.loaded = "true";
  });
})();
