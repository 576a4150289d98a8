// Live page: the recent CO2 of each chosen chamber from /api/live/samples, then new samples
// and fitted lines pushed by /api/live/stream (server-sent events), drawn with uPlot.
"use strict";
(function () {
  const panels = {};
  for (const el of document.querySelectorAll(".live-device")) {
    panels[el.dataset.device] = { el: el, seqs: new Set(), t: [], co2: [], fits: new Map(), plot: null };
  }
  const devices = Object.keys(panels);
  const q = new URLSearchParams();
  for (const d of devices) q.append("device", d);
  for (const what of ["samples", "fits"]) for (const fmt of ["csv", "parquet"]) {
    const e = new URLSearchParams(q); e.set("format", fmt);
    document.getElementById("export-" + what + "-" + fmt).href = "/api/live/" + what + "?" + e;
  }
  const status = document.getElementById("status");
  if (!devices.length) { status.textContent = "no chamber chosen"; return; }

  function draw(p) {
    // the samples, and each fitted line evaluated at the samples inside its fit window
    // (null elsewhere, so that two closures' lines are not joined)
    const line = p.t.map(() => null);
    for (const [cyc, f] of p.fits) {
      const a = Date.parse(f.fit_start) / 1000, b = Date.parse(f.fit_end) / 1000;
      if (p.t.length && b < p.t[0]) {  // scrolled out of the window
        p.fits.delete(cyc);
        const li = p.el.querySelector(".fits li[data-cyc='" + cyc + "']");
        if (li) li.remove();
        continue;
      }
      let n = 0;
      p.t.forEach((t, i) => { if (t >= a && t <= b) { line[i] = f.fit_start_co2_ppm + f.fit_slope_ppm_s * (t - a); n++; } });
      const li = p.el.querySelector(".fits li[data-cyc='" + cyc + "']");
      if (li) li.dataset.points = String(n);  // samples the drawn line spans
    }
    const data = [p.t.slice(), p.co2.slice(), line];
    if (!p.plot) {
      p.plot = new uPlot({
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
        width: Math.min(900, window.innerWidth - 60), height: 220,
        series: [{}, { label: "CO₂ [µmol mol⁻¹]", stroke: "#1b7837", spanGaps: true, points: { show: false } },
          { label: "fitted line", stroke: "#b2182b", width: 3, spanGaps: false }],
        axes: [{}, { label: "CO₂ [µmol mol⁻¹]" }],
      }, data, p.el.querySelector(".chart"));
    } else {
      p.plot.setData(data);
    }
  }

  function addSample(s) {
    const p = panels[s.device];
    if (!p || p.seqs.has(s.seq)) return false;
    p.seqs.add(s.seq);
    const t = Date.parse(s.time) / 1000;
    let i = p.t.length;
    while (i > 0 && p.t[i - 1] > t) i--;  // keep time order (a late batch)
    p.t.splice(i, 0, t); p.co2.splice(i, 0, s.co2_ppm);
    const newest = p.t[p.t.length - 1];
    while (p.t.length && p.t[0] < newest - 1200) { p.t.shift(); p.co2.shift(); }
    if (i === p.t.length - 1 || p.el.dataset.seq === undefined || s.seq > Number(p.el.dataset.seq)) {
      p.el.dataset.seq = String(s.seq);
      p.el.querySelector(".cyc").textContent = s.cyc;
      p.el.querySelector(".phase").textContent = s.phase;
      p.el.querySelector(".co2").textContent = s.co2_ppm === null ? "–" : s.co2_ppm.toFixed(1);
      p.el.querySelector(".time").textContent = s.time.replace("T", " ").slice(0, 19);
      p.el.querySelector(".seq").textContent = s.seq;
    }
    p.el.querySelector(".n-samples").textContent = p.t.length;
    return true;
  }

  function addFit(f) {
    const p = panels[f.device];
    if (!p || p.fits.has(f.cyc)) return false;
    p.fits.set(f.cyc, f);
    const li = document.createElement("li");
    li.dataset.cyc = f.cyc;
    const a = document.createElement("a");
    a.href = "/closure/" + encodeURIComponent(f.device) + "/" + f.cyc;
    a.textContent = "cycle " + f.cyc + ": " + f.flux_umol_m2_s.toFixed(3) + " µmol m⁻² s⁻¹ (" + f.model + (f.flags ? ", " + f.flags : "") + ")";
    li.appendChild(a);
    p.el.querySelector(".fits").prepend(li);
    return true;
  }

  Promise.all([fetch("/api/live/samples?" + q).then((r) => r.json()), fetch("/api/live/fits?" + q).then((r) => r.json())])
    .then(([samples, fits]) => {
      for (const s of samples) addSample(s);
      for (const f of fits) addFit(f);
      for (const p of Object.values(panels)) draw(p);
      let after = null;
      for (const s of samples) if (after === null || s.time > after) after = s.time;
      const sq = new URLSearchParams(q);
      if (after) sq.set("after", after);
      for (const [d, p] of Object.entries(panels)) if (p.el.dataset.seq) sq.append("seen", d + ":" + p.el.dataset.seq);
      const es = new EventSource("/api/live/stream?" + sq);
      const dirty = new Set();
      es.addEventListener("status", (e) => {
        const d = JSON.parse(e.data);
        status.textContent = d.ok ? "connected" : "store not readable, retrying: " + d.detail;
        document.body.dataset.stream = d.ok ? "open" : "error";
      });
      es.addEventListener("sample", (e) => { const s = JSON.parse(e.data); if (addSample(s)) dirty.add(s.device); });
      es.addEventListener("fit", (e) => { const f = JSON.parse(e.data); if (addFit(f)) dirty.add(f.device); });
      es.onerror = () => { status.textContent = "disconnected, reconnecting"; };
      setInterval(() => { for (const d of dirty) draw(panels[d]); dirty.clear(); }, 500);
      document.body.dataset.loaded = "true";
    });
})();
