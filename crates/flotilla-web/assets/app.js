// flotilla UI: live updates and the operation forms. The pages work without this script; with
// it, the page follows /api/v1/stream (server-sent events) and, when an Application it shows
// changes, fetches its own URL again and swaps in the re-rendered section (one renderer, the
// server's). The sync and refresh forms go to the JSON API and show its answer in place.
"use strict";
(function () {
  const page = document.body.dataset.page;
  const sections = page === "list" ? ["results"] : page === "application" ? ["detail", "log"] : [];
  const live = document.getElementById("live");

  function swap() {
    fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } })
      .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
      .then((text) => {
        const fresh = new DOMParser().parseFromString(text, "text/html");
        for (const id of sections) {
          const next = fresh.getElementById(id);
          const current = document.getElementById(id);
          if (next && current) current.replaceWith(next);
        }
      })
      .catch(() => {});
  }

  let timer = null;
  function soon() {
    if (timer === null) timer = setTimeout(() => { timer = null; swap(); }, 150);
  }

  function concerns(data) {
    if (page === "list") return true;
    const parts = location.pathname.split("/").map(decodeURIComponent);
    const application = data.application || {};
    return data.type === "RESYNC" || (application.namespace === parts[2] && application.name === parts[3]);
  }

  if (sections.length && window.EventSource) {
    const source = new EventSource("/api/v1/stream");
    source.addEventListener("hello", () => { if (live) live.hidden = false; });
    source.addEventListener("resync", soon);
    source.addEventListener("application", (event) => {
      try { if (concerns(JSON.parse(event.data))) soon(); } catch (_) { soon(); }
    });
    source.onerror = () => { if (live) live.hidden = true; };
  }

  function notice(text, failed) {
    const element = document.getElementById("notice");
    if (!element) return;
    element.textContent = text;
    element.className = failed ? "error" : "notice";
    element.hidden = false;
  }

  for (const form of document.querySelectorAll("form.operation[data-api]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const body = {};
      const options = [];
      for (const box of form.querySelectorAll("input[type=checkbox]")) {
        if (box.name === "syncOption") { if (box.checked) options.push(box.value); }
        else body[box.name] = box.checked;
      }
      if (options.length) body.syncOptions = options;
      const revision = form.querySelector("input[name=revision]");
      if (revision && revision.value.trim()) body.revision = revision.value.trim();
      const button = form.querySelector("button");
      if (button) button.disabled = true;
      fetch(form.dataset.api, {
        method: "POST",
        credentials: "same-origin",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      })
        .then((response) => response.json().then((answer) => ({ ok: response.ok, answer })))
        .then(({ ok, answer }) => {
          if (ok) notice(form.id === "sync" ? "sync requested" : "refresh requested", false);
          else notice(answer.error || "failed", true);
          soon();
        })
        .catch((error) => notice(String(error), true))
        .finally(() => { if (button) button.disabled = false; });
    });
  }

  // Keyboard: "/" focuses the search field; "j" and "k" move through the list's rows (their
  // links), Enter opens the one focused.
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "SELECT" || target.tagName === "TEXTAREA")) return;
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const search = document.getElementById("search");
    if (event.key === "/" && search) {
      event.preventDefault();
      search.focus();
      return;
    }
    if (event.key !== "j" && event.key !== "k") return;
    const links = Array.from(document.querySelectorAll("#applications tbody tr td:first-child a, #tiles li a.name"));
    if (!links.length) return;
    const at = links.indexOf(document.activeElement);
    const next = event.key === "j" ? Math.min(at + 1, links.length - 1) : Math.max(at - 1, 0);
    event.preventDefault();
    links[at === -1 ? 0 : next].focus();
  });
})();
