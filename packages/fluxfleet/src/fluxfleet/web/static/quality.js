// Quality page: weekly share of filtered closures (fleet, per table, per flag) from
// /api/quality, drawn with uPlot; a row lists that week's filtered closures.
"use strict";
(function () {
  const params = new URLSearchParams(window.location.search);
  const form = document.getElementById("query");
  const query = new URLSearchParams();
  for (const k of ["from", "to"]) if (params.get(k)) { form.elements[k].value = params.get(k); query.set(k, params.get(k)); }
  const colours = ["#1b7837", "#762a83", "#e08214", "#2166ac", "#b2182b", "#4d4d4d", "#8c510a", "#01665e"];
  const pct = (x) => (100 * x).toFixed(1);
  const cell = (tr, cls, text) => { const td = document.createElement("td"); td.className = cls; td.textContent = text; tr.appendChild(td); };

  function showClosures(week, key, value) {
    const q = new URLSearchParams({ week: week });
    if (key) q.set(key, value);
    for (const fmt of ["csv", "parquet"]) {
      const e = new URLSearchParams(q); e.set("format", fmt);
      document.getElementById("flagged-" + fmt).href = "/api/quality/closures?" + e;
    }
    fetch("/api/quality/closures?" + q).then((r) => Promise.all([r.json(), r.headers.get("X-Total-Count")])).then(([rows, total]) => {
      document.getElementById("flagged-title").textContent = "Week of " + week.slice(0, 10) + (key ? ", " + key + " " + value : "") +
        ": " + total + " filtered closures" + (rows.length < Number(total) ? " (the newest " + rows.length + " listed)" : "");
      const tbody = document.querySelector("#flagged tbody");
      tbody.innerHTML = "";
      for (const c of rows) {
        const tr = document.createElement("tr");
        tr.dataset.device = c.device; tr.dataset.cyc = c.cyc;
        cell(tr, "start", c.start.replace("T", " ").slice(0, 19));
        const td = document.createElement("td"); const a = document.createElement("a");
        a.href = "/closure/" + encodeURIComponent(c.device) + "/" + c.cyc; a.className = "closure-link"; a.textContent = c.device;
        td.appendChild(a); tr.appendChild(td);
        cell(tr, "location", c.location); cell(tr, "cyc", c.cyc);
        cell(tr, "flux", c.flux_umol_m2_s === null ? "–" : c.flux_umol_m2_s.toFixed(3));
        cell(tr, "model", c.model || "–"); cell(tr, "flags", c.flags);
        tbody.appendChild(tr);
      }
      document.getElementById("flagged").dataset.loaded = "true";
    });
  }

  function load(section) {
    const level = section.dataset.level;
    const q = new URLSearchParams(query); q.set("level", level);
    for (const fmt of ["csv", "parquet"]) {
      const e = new URLSearchParams(q); e.set("format", fmt);
      section.querySelector(".export-" + fmt).href = "/api/quality?" + e;
    }
    return fetch("/api/quality?" + q).then((r) => r.json()).then((rows) => {
      const tbody = section.querySelector("table.rows tbody");
      for (const r of rows) {
        const tr = document.createElement("tr");
        tr.dataset.week = r.week;
        cell(tr, "week", r.week.slice(0, 10));
        if (level !== "week") { tr.dataset.key = r[level]; cell(tr, "key", r[level]); }
        cell(tr, "closures", r.n_closures); cell(tr, "filtered", r.n_filtered); cell(tr, "share", pct(r.filtered_share));
        tr.addEventListener("click", () => showClosures(r.week, level === "week" ? null : level, r[level]));
        tbody.appendChild(tr);
      }
      const weeks = [...new Set(rows.map((r) => r.week))].sort();
      const keys = level === "week" ? ["fleet"] : [...new Set(rows.map((r) => r[level]))].sort();
      const x = weeks.map((w) => Date.parse(w) / 1000);
      const ys = keys.map((k) => weeks.map((w) => {
        const r = rows.find((r) => r.week === w && (level === "week" || r[level] === k));
        return r ? 100 * r.filtered_share : null;
      }));
      new uPlot({
        tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),
        width: Math.min(900, window.innerWidth - 60), height: 220,
        series: [{}, ...keys.map((k, i) => ({ label: String(k), stroke: colours[i % colours.length], points: { show: true } }))],
        axes: [{}, { label: "filtered [%]" }],
        scales: { x: { time: true, range: (u, lo, hi) => [lo - 4 * 86400, hi + 4 * 86400] }, y: { range: [0, 100] } },
      }, [x, ...ys], section.querySelector(".chart"));
    });
  }
  Promise.all([...document.querySelectorAll("section.quality")].map(load)).then(() => { document.body.dataset.loaded = "true"; });
})();
