// The bearer token of the pages that change state (Alarms, Commands): typed by the user,
// kept in this tab's sessionStorage, sent as "Authorization: Bearer …" to this console.
"use strict";
window.fluxfleetToken = (function () {
  const KEY = "fluxfleet-token";
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const show = () => { state.textContent = sessionStorage.getItem(KEY) ? "token set for this tab" : "no token"; };
  input.value = sessionStorage.getItem(KEY) || "";
  document.getElementById("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const v = input.value.trim();
    if (v) sessionStorage.setItem(KEY, v); else sessionStorage.removeItem(KEY);
    show();
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY); input.value = ""; show();
  });
  show();
  // POST body (JSON) with the token, if any: the server refuses without one (401) or
  // with a wrong one (403). Resolves to {ok, status, body}.
  function post(url, body) {
    const v = input.value.trim();
    if (v) sessionStorage.setItem(KEY, v);
    show();
    const headers = { "Content-Type": "application/json" };
    if (v) headers.Authorization = "Bearer " + v;
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(body || {}) })
      .then((r) => r.json().catch(() => ({})).then((b) => ({ ok: r.ok, status: r.status, body: b })));
  }
  // The server's reason for a refusal, as one line.
  function reason(res) {
    const d = res.body && res.body.detail;
    const text = typeof d === "string" ? d : JSON.stringify(d);
    return "refused (" + res.status + "): " + text;
  }
  return { post: post, reason: reason };
})();
