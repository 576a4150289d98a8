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
