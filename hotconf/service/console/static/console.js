// hotconf console: what needs JavaScript, and nothing else. Every page reads without it.
//
// - The page follows /v1/events (server-sent events) and refreshes itself in place when a
//   version lands, a candidate is rejected, a rollout moves or readiness changes: it fetches
//   its own URL again and swaps in the parts marked data-live.
// - A token entered is kept in this tab's sessionStorage (never a cookie) and sent as
//   "Authorization: Bearer" on those fetches (the server then renders secret values) and on
//   the API calls that change things: rollback and redeliver.
"use strict";

(function () {
  const KEY = "hotconf.token";
  document.documentElement.classList.add("js");

  // -- the token ---------------------------------------------------------------------------

  function token() {
    try {
      return sessionStorage.getItem(KEY);
    } catch (e) {
      return null;
    }
  }

  function setToken(value) {
    try {
      if (value) sessionStorage.setItem(KEY, value);
      else sessionStorage.removeItem(KEY);
    } catch (e) {
      notice("This browser keeps no session storage: the token cannot be kept.", "error");
    }
    showTokenState();
  }

  function headers(extra) {
    const result = Object.assign({}, extra);
    const t = token();
    if (t) result.Authorization = "Bearer " + t;
    return result;
  }

  function showTokenState() {
    const forget = document.getElementById("token-forget");
    if (forget) forget.hidden = !token();
  }

  // -- messages ----------------------------------------------------------------------------

  function notice(text, kind, link) {
    // the newest three messages, newest first: an event must not hide the answer to a click
    const box = document.getElementById("notice");
    if (!box) return;
    const line = document.createElement("p");
    if (kind) line.className = kind;
    line.textContent = text;
    if (link) {
      const a = document.createElement("a");
      a.href = link.href;
      a.textContent = link.text;
      line.append(" ", a);
    }
    box.prepend(line);
    while (box.children.length > 3) box.lastElementChild.remove();
  }

  // -- refreshing in place -----------------------------------------------------------------

  let running = null;
  let again = false;

  function refresh() {
    if (running) {
      again = true;
      return running;
    }
    running = (async function () {
      do {
        again = false;
        try {
          const response = await fetch(location.href, {
            headers: headers({ Accept: "text/html" }),
            cache: "no-store",
            credentials: "omit",
          });
          const html = await response.text();
          const fresh = new DOMParser().parseFromString(html, "text/html");
          if (fresh.body.dataset.tokenError === "yes" && token()) {
            setToken(null);
            notice("The token was not accepted, so it is forgotten.", "error");
            again = true;
            continue;
          }
          swap(fresh);
        } catch (e) {
          // the server is away (restarting?): the event stream reconnects and calls again
        }
      } while (again);
    })().finally(function () {
      running = null;
    });
    return running;
  }

  function remember(region) {
    // what has the focus, and what was typed, so a swap takes neither away
    const active = document.activeElement;
    const focus = active && region.contains(active) && active !== region
      ? { id: active.id, tag: active.tagName, href: active.getAttribute("href"), text: active.textContent }
      : null;
    const typed = [];
    for (const input of region.querySelectorAll("input[id], select[id]")) {
      if (input.value !== input.defaultValue) typed.push([input.id, input.value]);
    }
    return { focus: focus, typed: typed };
  }

  function restore(region, kept) {
    for (const [id, value] of kept.typed) {
      const input = document.getElementById(id);
      if (input && region.contains(input)) input.value = value;
    }
    const f = kept.focus;
    if (!f) return;
    let target = f.id ? document.getElementById(f.id) : null;
    if (!target) {
      for (const el of region.querySelectorAll(f.tag)) {
        if (el.getAttribute("href") === f.href && el.textContent === f.text) {
          target = el;
          break;
        }
      }
    }
    (target || region).focus({ preventScroll: true });
  }

  function swap(fresh) {
    for (const old of document.querySelectorAll("[data-live]")) {
      const replacement = fresh.getElementById(old.id);
      if (!replacement) continue;
      const kept = remember(old);
      const node = document.importNode(replacement, true);
      old.replaceWith(node);
      restore(node, kept);
    }
    Object.assign(document.body.dataset, fresh.body.dataset);
    if (fresh.body.dataset.tokenError === undefined) delete document.body.dataset.tokenError;
    document.title = fresh.title;
  }

  // -- following the server's events -------------------------------------------------------

  function differs(state) {
    const page = document.body.dataset;
    if ("state" in state && state.state !== page.state) return true;
    if ("version" in state && String(state.version ?? "") !== page.version) return true;
    if ("rejected_at" in state && (state.rejected_at || "") !== page.rejectedAt) return true;
    return false;
  }

  function follow() {
    if (!window.EventSource) return;
    const events = new EventSource(document.body.dataset.root + "/v1/events");
    events.addEventListener("state", function (e) {
      if (differs(JSON.parse(e.data))) refresh();
    });
    events.addEventListener("version", function (e) {
      const d = JSON.parse(e.data);
      const n = d.changes === 1 ? "1 key" : d.changes + " keys";
      const what = d.type === "config.rolled_back" ? "rolled back" : "changed";
      notice("v" + d.version + " is live (" + what + ": " + d.level + ", " + n + ").", "ok");
      refresh();
    });
    events.addEventListener("rejection", function (e) {
      const d = JSON.parse(e.data);
      const n = d.problems === 1 ? "1 problem" : d.problems + " problems";
      notice("A candidate from " + d.source + " was rejected (" + n + "); the last-known-good stays served.",
        "error", { href: document.body.dataset.root + "/console/rejections", text: "See the rejections." });
      refresh();
    });
    events.addEventListener("rollout", refresh);
  }

  // -- actions that change things ----------------------------------------------------------

  function failure(status, body) {
    if (status === 401) return "This needs the admin token: enter it above.";
    const problems = (body.problems || []).map(function (p) {
      return (p.source ? p.source + (p.line ? ":" + p.line : "") + ": " : "") + (p.path ? p.path + ": " : "") + p.message;
    });
    const text = (body.title || "HTTP " + status) + ": " + (body.detail || "");
    return problems.length ? text + " (" + problems.join("; ") + ")" : text;
  }

  const ACTIONS = {
    rollback: {
      body: function (form) {
        return { to: Number(form.dataset.to) };
      },
      done: function (result) {
        if (result.status === "noop") {
          return ["Nothing to roll back: v" + result.version + " already serves that content.", null];
        }
        return ["Rolled back: v" + result.version + " now serves the content of v" + result.restores + ".",
          { href: document.body.dataset.root + "/console/versions", text: "See the versions." }];
      },
    },
    redeliver: {
      body: function () {
        return {};
      },
      done: function (result) {
        return ["Delivery " + result.id + " is queued again.", null];
      },
    },
  };

  async function act(form) {
    const action = ACTIONS[form.dataset.action];
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    try {
      const response = await fetch(form.getAttribute("action"), {
        method: "POST",
        headers: headers({ "Content-Type": "application/json", Accept: "application/json" }),
        body: JSON.stringify(action.body(form)),
        credentials: "omit",
      });
      const body = await response.json().catch(function () {
        return {};
      });
      if (response.ok) {
        const [text, link] = action.done(body);
        notice(text, "ok", link);
      } else {
        notice(failure(response.status, body), "error");
      }
    } catch (e) {
      notice("The server did not answer: " + e, "error");
    } finally {
      if (button) button.disabled = false;
    }
    refresh();
  }

  document.addEventListener("submit", function (event) {
    const form = event.target;
    if (form.id === "token-form") {
      event.preventDefault();
      const input = document.getElementById("token-input");
      const value = input.value.trim();
      if (!value) return;
      input.value = "";
      setToken(value);
      notice("Token kept for this tab only.", "ok");
      refresh();
    } else if (form.dataset.action in ACTIONS) {
      event.preventDefault();
      act(form);
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.id === "token-forget") {
      setToken(null);
      notice("Token forgotten.", "ok");
      refresh();
    }
  });

  showTokenState();
  if (token() && document.body.dataset.access === "anonymous") refresh();
  follow();
})();
