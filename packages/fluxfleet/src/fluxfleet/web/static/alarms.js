// Alarms page: the store's alarms from /api/alarms; Acknowledge POSTs to
// /api/alarms/{id}/ack with the tab's bearer token and shows the server's answer.
"use strict";
(function () {
  const form = document.getElementById("query");
  const error = document.getElementById("alarm-error");
  const tbody = document.querySelector("#alarms tbody");
  const time = (t) => (t ? t.replace("T", " ").slice(0, 19) : "–");
  const cell = (tr, cls, text) => { const td = document.createElement("td"); td.className = cls; td.textContent = text; tr.appendChild(td); return td; };

  function acknowledge(a, button) {
    error.textContent = "";
    button.disabled = true;
    window.fluxfleetToken.post("/api/alarms/" + a.id + "/ack").then((res) => {
      if (!res.ok) {
        error.textContent = "Alarm " + a.id + ": acknowledgement " + window.fluxfleetToken.reason(res);
        button.disabled = false;
        return;
      }
      load();
    });
  }

  function load() {
    const state = form.elements.state.value;
    for (const fmt of ["csv", "parquet"]) {
      document.getElementById("export-" + fmt).href = "/api/alarms?" + new URLSearchParams({ state: state, format: fmt });
    }
    return fetch("/api/alarms?" + new URLSearchParams({ state: state })).then((r) => r.json()).then((rows) => {
      tbody.innerHTML = "";
      for (const a of rows) {
        const tr = document.createElement("tr");
        tr.dataset.id = a.id;
        tr.className = "severity-" + a.severity + (a.cleared ? " cleared" : "");
        cell(tr, "id", a.id); cell(tr, "device", a.device); cell(tr, "kind", a.kind); cell(tr, "severity", a.severity);
        cell(tr, "raised", time(a.raised)); cell(tr, "last-seen", time(a.last_seen)); cell(tr, "cleared", time(a.cleared));
        cell(tr, "repeats", a.repeats); cell(tr, "value", a.value === null ? "–" : a.value); cell(tr, "detail", a.detail || "");
        cell(tr, "acked", time(a.acked)); cell(tr, "acked-by", a.acked_by || "");
        const td = cell(tr, "action", "");
        if (!a.acked) {
          const b = document.createElement("button");
          b.type = "button"; b.className = "ack"; b.textContent = "Acknowledge";
          b.addEventListener("click", () => acknowledge(a, b));
          td.appendChild(b);
        }
        tbody.appendChild(tr);
      }
      document.body.dataset.loaded = "true";
    });
  }

  form.addEventListener("change", load);
  load();
})();
