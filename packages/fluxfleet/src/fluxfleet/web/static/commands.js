// Commands panel: sends frc / reboot / servo-test through POST /api/commands with the tab's
// bearer token, then follows the command's acks (GET /api/commands/{id}/stream, SSE).
"use strict";
(function () {
  const send = document.getElementById("send");
  const error = document.getElementById("send-error");
  const section = document.getElementById("follow");
  const followForm = document.getElementById("follow-form");
  const time = (t) => (t ? t.replace("T", " ").slice(0, 19) : "–");
  const cell = (tr, cls, text) => { const td = document.createElement("td"); td.className = cls; td.textContent = text; tr.appendChild(td); };
  let stream = null;

  function showArgs() {
    for (const l of send.querySelectorAll(".arg")) l.hidden = !l.classList.contains("arg-" + send.elements.cmd.value);
  }

  function draw(status) {
    document.getElementById("cmd-id").textContent = status.cmd_id;
    const s = status.summary;
    document.getElementById("cmd-summary").textContent = status.cmd.replace("_", "-") + " by " + status.operator +
      ", sent " + time(status.sent) + ", expires " + time(status.expires) + " — " +
      ["done", "failed", "expired", "accepted", "no_answer"].map((k) => k.replace("_", " ") + " " + s[k].length).join(", ");
    const tbody = document.querySelector("#acks tbody");
    tbody.innerHTML = "";
    for (const [device, acks] of Object.entries(status.devices)) {
      const tr = document.createElement("tr");
      tr.dataset.device = device;
      const last = acks.length ? acks[acks.length - 1] : null;
      const accepted = acks.find((a) => a.state === "accepted");
      const final = acks.find((a) => a.state !== "accepted");
      tr.dataset.state = last ? last.state : "no_answer";
      cell(tr, "device", device); cell(tr, "state", last ? last.state : "no answer");
      cell(tr, "accepted", accepted ? time(accepted.time) : "–"); cell(tr, "final", final ? time(final.time) : "–");
      cell(tr, "detail", acks.map((a) => a.detail).filter((d) => d).join("; "));
      tbody.appendChild(tr);
    }
    section.dataset.loaded = "true";
  }

  function follow(cmdId) {
    if (stream) stream.close();
    section.dataset.cmdId = cmdId;
    section.dataset.loaded = "false";
    followForm.elements.cmd_id.value = cmdId;
    history.replaceState(null, "", "/commands?" + new URLSearchParams({ cmd_id: cmdId }));
    stream = new EventSource("/api/commands/" + encodeURIComponent(cmdId) + "/stream");
    stream.addEventListener("command", (e) => draw(JSON.parse(e.data)));
    stream.addEventListener("status", (e) => {
      const d = JSON.parse(e.data);
      document.getElementById("cmd-summary").textContent = d.detail;
      if (d.detail.startsWith("no command")) stream.close();
    });
  }

  send.addEventListener("change", showArgs);
  send.addEventListener("submit", (e) => {
    e.preventDefault();
    error.textContent = "";
    const f = send.elements;
    const cmd = f.cmd.value;
    const args = {};
    if (cmd === "frc") args.ppm = Number(f.ppm.value);
    if (cmd === "servo_test") args.sweeps = Number(f.sweeps.value);
    const body = { cmd: cmd, args: args, expires: f.expires.value.trim() };
    if (f.all.checked) body.all = true; else body.devices = f.devices.value.split(/[\s,]+/).filter((d) => d);
    window.fluxfleetToken.post("/api/commands", body).then((res) => {
      if (!res.ok) { error.textContent = "Not sent: " + window.fluxfleetToken.reason(res); return; }
      follow(res.body.cmd_id);
    });
  });
  followForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const id = followForm.elements.cmd_id.value.trim();
    if (id) follow(id);
  });
  showArgs();
  if (section.dataset.cmdId) follow(section.dataset.cmdId);
})();
