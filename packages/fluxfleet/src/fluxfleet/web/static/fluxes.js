// Fluxes page: hourly replicate mean ± sd per variant from /api/fluxes, drawn with uPlot;
// a click on a point or a row lists that hour's closures, each linking to its closure page.
"use strict";
(function () {
  const params = new URLSearchParams(window.location.search);
  const form = document.getElementById("query");
  for (const [k, v] of params) {
    const input = form.elements[k];
    if (input && input.type === "checkbox") input.checked = v === "true";
    else if (input) input.value = v;
  }
  const query = new URLSearchParams();
  for (const k of ["location", "from", "to"]) if (params.get(k)) query.set(k, params.get(k));
  for (const k of ["filtered", "night"]) if (params.get(k) === "true") query.set(k, "true");
  const level = params.get("level") === "location" ? "location" : "variant";
  // per hour unless asked, or unless a season is shown (auto: per day beyond 14 days)
  let bin = ["hour", "day"].includes(params.get("bin")) ? params.get("bin") : "auto";
  if (level !== "variant") query.set("level", level);
  query.set("bin", bin);
  for (const fmt of ["csv", "parquet"]) {
    const q = new URLSearchParams(query); q.set("format", fmt);
    document.getElementById("export-" + fmt).href = "/api/fluxes?" + q;
  }
  const colours = ["#1b7837", "#762a83", "#e08214", "#2166ac", "#b2182b", "#4d4d4d", "#8c510a", "#01665e"];
  const fmt = (v) => (v === null || v === undefined ? "–" : v.toFixed(3));

  function showClosures(hourIso, variant) {
    const start = new Date(hourIso);
    const end = new Date(start.getTime() + (bin === "day" ? 86400e3 : 3600e3));
    const q = new URLSearchParams(query);
    q.delete("bin");
    q.set("level", "closure"); q.set("from", start.toISOString()); q.set("to", end.toISOString());
    if (variant) q.set("location", variant);
    fetch("/api/fluxes?" + q).then((r) => r.json()).then((rows) => {
      const div = document.getElementById("closures");
      div.innerHTML = "<h2>Closures " + hourIso.slice(0, 13) + "h " + (variant || "") + "</h2>";
      const ul = document.createElement("ul");
      for (const c of rows) {
        const li = document.createElement("li");
        const a = document.createElement("a");
        a.href = "/closure/" + encodeURIComponent(c.device) + "/" + c.cyc;
        a.className = "closure-link";
        a.textContent = c.device + " " + c.location + " cycle " + c.cyc + ": " + fmt(c.flux_umol_m2_s) + " µmol m⁻² s⁻¹";
        li.appendChild(a); ul.appendChild(li);
      }
      div.appendChild(ul);
    });
  }

  fetch("/api/fluxes?" + query).then(async (r) => {
    const body = await r.json();
    if (!r.ok) {  // e.g. hourly over more than a month: the server says what to ask instead
      const p = document.getElementById("query-error");
      p.textContent = body.detail || ("HTTP " + r.status);
      p.hidden = false;
      document.body.dataset.loaded = "error";
      return null;
    }
    return body;
  }).then((rows) => {
    if (rows === null) return;
    if (bin === "auto") bin = rows.length && "day" in rows[0] ? "day" : "hour";
    const tbody = document.querySelector("#fluxes tbody");
    // one HTML string and one delegated listener: a month per hour is ~6,000 rows, and a
    // node-by-node table with a listener per row took most of the page's first second
    const esc = (v) => String(v).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]);
    const html = [];
    for (const r of rows) {
      const cells = [["hour", r[bin].slice(0, bin === "day" ? 10 : 16).replace("T", " ")], ["variant", r[level]],
          ["mean", fmt(r.flux_mean_umol_m2_s)], ["sd", fmt(r.flux_sd_umol_m2_s)],
          ["replicas", r.n_replicas === undefined ? "–" : String(r.n_replicas)], ["closures", String(r.n_closures)]];
      html.push('<tr data-hour="' + esc(r[bin]) + '" data-variant="' + esc(r[level]) + '">' +
        cells.map(([cls, v]) => '<td class="' + cls + '">' + esc(v) + "</td>").join("") + "</tr>");
    }
    // the first rows at once, the rest on request: laying out a 6,000-row table costs more
    // than a second, and the chart above already draws every row
    // (window.FLUXFLEET_FIRST_ROWS: a smaller first page for the browser test's small store)
    const FIRST_ROWS = window.FLUXFLEET_FIRST_ROWS || 500;
    tbody.innerHTML = html.slice(0, FIRST_ROWS).join("");
    if (html.length > FIRST_ROWS) {
      const more = document.getElementById("more-rows");
      more.textContent = "show all " + html.length + " rows";
      more.hidden = false;
      more.addEventListener("click", () => { tbody.innerHTML = html.join(""); more.hidden = true; });
    }
    tbody.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (tr) showClosures(tr.dataset.hour, tr.dataset.variant);
    });
    const hours = [...new Set(rows.map((r) => r[bin]))].sort();
    const variants = [...new Set(rows.map((r) => r[level]))].sort();
    const index = new Map(hours.map((h, i) => [h, i]));
    const data = [hours.map((h) => Date.parse(h) / 1000)];
    const series = [{}];
    variants.forEach((v, k) => {
      const mean = hours.map(() => null), lo = hours.map(() => null), hi = hours.map(() => null);
      for (const r of rows.filter((r) => r[level] === v)) {
        const i = index.get(r[bin]);
        mean[i] = r.flux_mean_umol_m2_s;
        if (r.flux_sd_umol_m2_s !== null) {
          lo[i] = r.flux_mean_umol_m2_s - r.flux_sd_umol_m2_s;
          hi[i] = r.flux_mean_umol_m2_s + r.flux_sd_umol_m2_s;
        }
      }
      const stroke = colours[k % colours.length];
      data.push(mean, lo, hi);
      series.push({ label: v, stroke, width: 2, points: { show: true } },
        { label: v + " −sd", stroke, dash: [4, 4], width: 1 },
        { label: v + " +sd", stroke, dash: [4, 4], width: 1 });
    });
    const chart = new uPlot({
      tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), "Etc/UTC"),  // axes in UTC
      width: Math.min(1100, window.innerWidth - 40), height: 360, series,
      axes: [{}, { label: "flux [µmol m⁻² s⁻¹]" }],
      hooks: { ready: [(u) => u.over.addEventListener("click", () => {
        const i = u.cursor.idx;
        if (i !== null && i !== undefined) showClosures(hours[i], null);
      })] },
    }, data, document.getElementById("chart"));
    window.fluxChart = chart;
    document.body.dataset.loaded = "true";
  });
})();
