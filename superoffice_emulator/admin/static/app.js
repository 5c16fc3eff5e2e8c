/* The emulator's demo dashboard: plain JavaScript over the admin API, no build step, no dependencies.
 *
 * The page lives at {prefix}/_emulator/ui/ and talks to {prefix}/_emulator/* (the tenant is whatever
 * the address names: /Cust1/_emulator/ui/ shows tenant Cust1). The journal is polled every second with
 * ?since_id=; activities, counts and faults refresh every few seconds and as soon as a call arrives.
 * Every value from the server goes into the page as text, never as HTML.
 */
"use strict";

(() => {
  const JOURNAL_EVERY_MS = 1000;
  const REFRESH_EVERY_MS = 4000;
  const FLASH_MS = 2400; // the "changed" animation's length in style.css
  const PAGE_SIZE = 50;
  const JOURNAL_KEEP = 200;
  const KINDS = [
    { value: "appointment", label: "Appointments" },
    { value: "sale", label: "Sales" },
    { value: "document", label: "Documents" },
    { value: "todo", label: "Todos" },
  ];
  const STATUS_LABELS = { NotStarted: "Not started", Started: "Started", Completed: "Completed", Unknown: "Unknown" };
  const TOKEN_KEY = "superoffice-emulator.admin-token";
  // Journal entries that are not calls: SuperID's events (sign-ins, token grants, revocations, ...)
  const EVENT_WIRE = "superid";
  const EVENT_NAMES = { SignIn: "Sign-in", SignOut: "Sign-out", Token: "Token grant", Revoke: "Revocation", SystemUser: "System user" };
  const EVENT_OUTCOMES_OK = new Set(["approved", "granted", "revoked", "signed out"]);
  const SIGN_INS_SHOWN = 20;

  // {prefix}/_emulator/ui/... -> {prefix}/_emulator/
  const match = window.location.pathname.match(/^(.*)\/_emulator\/ui(?:\/.*)?$/);
  const ROOT = match ? match[1] : ""; // "" or "/{tenant}": where the tenant's SOAP and REST endpoints are
  const API = ROOT + "/_emulator/";
  const SOAP_PATH = "/Remote/Services86/Appointment.svc";
  const REST_PATH = "/api/v1/Agents/Appointment/SetActivityStatus";
  // XML namespace names of the envelope the Try-a-call form sends (names, never fetched)
  const SOAP_ENVELOPE = "http://schemas.xmlsoap.org/soap/envelope/";
  const ARRAYS = "http://schemas.microsoft.com/2003/10/Serialization/Arrays";
  const SERVICES86 = "http://www.superoffice.net/ws/crm/NetServer/Services86";
  const RECENT_KEEP = 8;

  const $ = (id) => document.getElementById(id);

  const state = {
    kind: "",
    status: "",
    owner: "",
    search: "",
    offset: 0,
    total: 0,
    users: new Map(),
    applicationToken: "",
    recent: [], // identifiers the newest calls named, newest first
    unseen: 0, // journal entries that arrived while the journal was out of sight (one column)
    statuses: new Map(), // identifier -> last status shown, to highlight changes
    changedAt: new Map(), // identifier -> when its status last changed on this page (ms)
    journalLastId: 0,
    journalTopAt: null,
    journalGeneration: 0,
    lastCounts: null,
    tokenPrompt: null,
    tokenDismissed: false,
    refreshTimer: null,
    refreshing: null,
    refreshAgain: false,
  };

  // -- the admin API --------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(path, { method = "GET", json } = {}) {
    for (;;) {
      const headers = { Accept: "application/json" };
      const token = localStorage.getItem(TOKEN_KEY);
      if (token) headers.Authorization = "Bearer " + token;
      let body;
      if (json !== undefined) {
        headers["Content-Type"] = "application/json";
        body = JSON.stringify(json);
      }
      let response;
      try {
        response = await fetch(API + path, { method, headers, body, cache: "no-store" });
      } catch (error) {
        setConnection("offline", "emulator unreachable");
        throw new ApiError(0, "The emulator cannot be reached: is it still running?");
      }
      let data = null;
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
      if (response.status === 401) {
        setConnection("locked", "admin token needed");
        await askToken((data && data.error) || "The admin API needs a token.");
        continue; // with the new token
      }
      if (!response.ok) {
        throw new ApiError(response.status, (data && data.error) || `${response.status} ${response.statusText}`);
      }
      return { data, response };
    }
  }

  function askToken(message) {
    $("token-button").hidden = false;
    if (state.tokenPrompt) return state.tokenPrompt;
    if (state.tokenDismissed) return Promise.reject(new ApiError(401, message));
    const dialog = $("token-dialog");
    $("token-message").textContent = message;
    $("token-input").value = "";
    state.tokenPrompt = new Promise((resolve, reject) => {
      const done = () => {
        dialog.removeEventListener("close", done);
        state.tokenPrompt = null;
        const value = dialog.returnValue === "ok" ? $("token-input").value.trim() : "";
        if (value) {
          localStorage.setItem(TOKEN_KEY, value);
          state.tokenDismissed = false;
          resolve();
        } else {
          state.tokenDismissed = true;
          reject(new ApiError(401, message));
        }
      };
      dialog.addEventListener("close", done);
    });
    dialog.returnValue = "";
    dialog.showModal();
    $("token-input").focus();
    return state.tokenPrompt;
  }

  // -- small helpers ------------------------------------------------------------------------------
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function statusBadge(status) {
    return el("span", { class: `badge status-${status}`, text: STATUS_LABELS[status] || status });
  }

  function outcomeClass(outcome) {
    if (outcome === "ok" || EVENT_OUTCOMES_OK.has(outcome)) return "ok";
    if (outcome === "denied") return "warn";
    if (outcome === "no change") return "neutral";
    if (outcome === "refused") return "warn";
    if (outcome.startsWith("injected")) return "injected";
    return "bad"; // failed, fault, error
  }

  function day(iso) {
    return iso ? iso.slice(0, 10) : "";
  }

  function clock(iso) {
    return iso ? iso.slice(11, 19) : "";
  }

  function userName(id) {
    const user = state.users.get(id);
    return user ? user.full_name || user.name : `#${id}`;
  }

  let toastTimer = null;
  function toast(message, kind = "info") {
    const node = $("toast");
    node.textContent = message;
    node.dataset.kind = kind;
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (node.hidden = true), kind === "error" ? 7000 : 3500);
  }

  function setConnection(stateName, text) {
    const node = $("connection");
    node.dataset.state = stateName;
    node.title = "";
    $("connection-text").textContent = text;
  }

  /** An error of something the user did: a toast. */
  function report(error) {
    if (error instanceof ApiError && (error.status === 0 || error.status === 401)) return; // shown in the header
    toast(error.message, "error");
  }

  /** An error of a background refresh: the header says so until the next one succeeds. */
  function reportQuietly(error) {
    if (error instanceof ApiError && (error.status === 0 || error.status === 401)) return; // already shown
    setConnection("offline", "refresh failed");
    $("connection").title = error.message;
  }

  // -- header -------------------------------------------------------------------------------------
  async function loadHealth() {
    const { data } = await api("health");
    $("tenant-name").textContent = data.tenant;
    $("version").textContent = "version " + data.version;
    document.title = `${data.tenant} · SuperOffice emulator`;
    if (data.status === "ok") setConnection("ok", "connected");
    else setConnection("offline", data.status);
  }

  // -- activities ---------------------------------------------------------------------------------
  /** The kind cards (the kind filter) with their totals; without counts, the last ones known. */
  function renderKinds(counts) {
    if (counts) state.lastCounts = counts;
    counts = state.lastCounts;
    const box = $("kinds");
    box.replaceChildren(
      kindCard("", "All activities", counts && counts.all),
      ...KINDS.map((kind) => kindCard(kind.value, kind.label, counts && counts[kind.value])),
    );
  }

  function kindCard(value, label, count) {
    const total = count ? count.total : null;
    const completed = count ? count.completed : null;
    const share = total ? Math.round((100 * completed) / total) : 0;
    const bar = el("span", { class: "bar" }, el("span", { class: "bar-fill" }));
    bar.firstChild.style.width = `${share}%`;
    return el(
      "button",
      {
        type: "button",
        class: "kind",
        "aria-pressed": String(state.kind === value),
        dataset: { kind: value || "all" },
        onclick: () => {
          state.kind = value;
          state.offset = 0;
          refreshSoon(true);
        },
      },
      el("span", { class: "kind-label", text: label }),
      el("span", { class: "kind-total", text: total === null ? "–" : String(total) }),
      el("span", { class: "kind-done", text: total === null ? "" : `${completed} completed · ${share}%` }),
      bar,
    );
  }

  async function loadCounts() {
    const count = async (kind, status) => {
      const query = new URLSearchParams({ limit: "1" });
      if (kind) query.set("kind", kind);
      if (status) query.set("status", status);
      const { response } = await api("activities?" + query);
      return Number(response.headers.get("X-Total-Count") || 0);
    };
    // One after the other: a handful of tiny local requests, without a burst of parallel connections.
    const counts = {};
    for (const kind of ["", ...KINDS.map((k) => k.value)]) {
      counts[kind || "all"] = { total: await count(kind, ""), completed: await count(kind, "Completed") };
    }
    return counts;
  }

  function activityQuery() {
    const query = new URLSearchParams({ limit: String(PAGE_SIZE), offset: String(state.offset) });
    let kind = state.kind;
    const text = state.search.trim();
    // appointment_id=666, appointment 666, appointment:666, appointment/666, appointment #666
    const identifier = text.match(/^(appointment|sale|document|todo)(?:_id)?\s*[=:/#\s]\s*#?(\d+)$/i);
    const number = text.match(/^#?(\d+)$/);
    if (identifier) {
      kind = identifier[1].toLowerCase();
      query.set("id", identifier[2]);
    } else if (number) {
      query.set("id", number[1]);
    } else if (text) {
      query.set("q", text);
    }
    if (kind) query.set("kind", kind);
    if (state.status) query.set("status", state.status);
    if (state.owner) query.set("owner", state.owner);
    return query;
  }

  async function loadActivities() {
    const { data, response } = await api("activities?" + activityQuery());
    state.total = Number(response.headers.get("X-Total-Count") || data.length);
    if (state.offset > 0 && data.length === 0 && state.total > 0) {
      state.offset = Math.max(0, Math.floor((state.total - 1) / PAGE_SIZE) * PAGE_SIZE);
      return loadActivities();
    }
    renderActivities(data);
  }

  function lastUpdate(activity) {
    if (!activity.updated) return "Not updated since the fixtures were loaded";
    const times = activity.updatedCount === 1 ? "once" : `${activity.updatedCount} times`;
    return `Updated ${times}, last by ${userName(activity.updated_associate_id)} at ${activity.updated} UTC`;
  }

  function renderActivities(rows) {
    const body = $("activities");
    body.replaceChildren(
      ...rows.map((activity) => {
        const previous = state.statuses.get(activity.identifier);
        if (previous !== undefined && previous !== activity.status) {
          state.changedAt.set(activity.identifier, Date.now());
        }
        state.statuses.set(activity.identifier, activity.status);
        const changedAt = state.changedAt.get(activity.identifier);
        // the flash lasts its animation even when a poll renders the row again meanwhile
        const flashing = changedAt !== undefined && Date.now() - changedAt < FLASH_MS;
        return el(
          "tr",
          {
            class: flashing ? "changed" : undefined,
            dataset: {
              identifier: activity.identifier,
              status: activity.status,
              ...(changedAt === undefined ? {} : { changed: "true" }),
            },
          },
          el("td", { class: "identifier" }, el("span", { class: `kind-dot kind-${activity.kind}` }), activity.identifier),
          el("td", { class: "title", text: activity.title, title: activity.title }),
          el("td", { class: "owner", text: userName(activity.associate_id) }),
          el("td", { class: "status", title: lastUpdate(activity) }, statusBadge(activity.status)),
          el("td", { class: "done", text: day(activity.done), title: activity.done || "" }),
        );
      }),
    );
    $("activities-empty").hidden = rows.length > 0;
    const first = rows.length ? state.offset + 1 : 0;
    const last = state.offset + rows.length;
    $("activities-range").textContent = `${first}–${last} of ${state.total}`;
    $("page-prev").disabled = state.offset === 0;
    $("page-next").disabled = last >= state.total;
  }

  // -- users --------------------------------------------------------------------------------------
  async function loadUsers() {
    const [{ data }, tokens, denials] = await Promise.all([
      api("users"),
      api("application_tokens"),
      api("denials"),
    ]);
    state.users = new Map(data.map((user) => [user.associate_id, user]));
    state.applicationToken = tokens.data.tokens[0] || "";
    renderOwners(data);
    renderUsers(data);
    renderAccess(tokens.data, denials.data);
    renderLogins(data);
    renderTryUsers(data);
  }

  /** A value to copy: the text in full (wrapped, never cut) and a button that copies it. */
  function copyable(value, label) {
    return el(
      "span",
      { class: "copyable" },
      el("code", { class: "value", text: value }),
      el("button", {
        type: "button",
        class: "ghost small copy",
        text: "Copy",
        "aria-label": `Copy ${label}`,
        dataset: { copy: value },
      }),
    );
  }

  async function copy(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (error) {
      // Not a secure context (a host name other than loopback): the old way.
      const area = el("textarea", { class: "offscreen", readonly: true });
      area.value = text;
      document.body.append(area);
      area.select();
      const done = document.execCommand("copy");
      area.remove();
      if (!done) {
        toast("The browser did not let the page copy; select the text instead.", "error");
        return;
      }
    }
    toast(`Copied ${text}`);
  }

  function renderAccess(tokens, denials) {
    const everyone = denials.filter((denial) => denial.associate_id === null).map((denial) => denial.identifier);
    $("tenant-access").replaceChildren(
      el("dt", { text: "Application token" }),
      el(
        "dd",
        {},
        ...(tokens.tokens.length ? tokens.tokens.map((token) => copyable(token, "the application token")) : ["none"]),
        el("span", { class: "muted small", text: tokens.required ? " required (online mode)" : " not checked in onsite mode" }),
      ),
      el("dt", { text: "Denied to everyone" }),
      el(
        "dd",
        { id: "denied-everyone" },
        everyone.length ? everyone.map((identifier) => el("code", { class: "denied", text: identifier })) : "nothing",
      ),
    );
  }

  function renderLogins(users) {
    $("logins").replaceChildren(
      ...users.map((user) =>
        el(
          "li",
          { class: "card", dataset: { user: user.name } },
          el(
            "div",
            { class: "card-head" },
            el("span", { class: "user-name", text: user.full_name || user.name }),
            el("span", { class: "muted small", text: `associate ${user.associate_id} · ${user.role} · group ${user.group_id}` }),
          ),
          el(
            "dl",
            { class: "credentials" },
            el("dt", { text: "User name" }),
            el("dd", { class: "login" }, copyable(user.name, `${user.name}'s user name`)),
            el("dt", { text: "Password" }),
            el(
              "dd",
              { class: "password" },
              user.password !== null
                ? copyable(user.password, `${user.name}'s password`)
                : el("span", { class: "muted small", text: "not shown: the fixtures hold only its hash" }),
            ),
            el("dt", { text: "Ticket" }),
            el(
              "dd",
              { class: "tickets" },
              user.tickets.length
                ? user.tickets.map((ticket) => copyable(ticket, `${user.name}'s ticket`))
                : el("span", { class: "muted small", text: "none fixed: log in with SoPrincipal" }),
            ),
            user.access_tokens.length > 0 && el("dt", { text: "Access token" }),
            user.access_tokens.length > 0 &&
              el("dd", { class: "tokens" }, user.access_tokens.map((token) => copyable(token, `${user.name}'s access token`))),
            el("dt", { text: "Denied" }),
            el(
              "dd",
              { class: "denials" },
              user.denied.length
                ? user.denied.map((identifier) => el("code", { class: "denied", text: identifier }))
                : el("span", { class: "muted small", text: "nothing by name" }),
            ),
          ),
        ),
      ),
    );
  }

  function renderTryUsers(users) {
    const select = $("try-user");
    const chosen = select.value;
    select.replaceChildren(
      ...users.map((user) =>
        el("option", {
          value: String(user.associate_id),
          text: `${user.name} (${user.role})${user.tickets.length ? "" : ": no ticket"}`,
          disabled: user.tickets.length === 0,
        }),
      ),
    );
    if (chosen && [...select.options].some((option) => option.value === chosen && !option.disabled)) select.value = chosen;
  }

  function renderOwners(users) {
    const select = $("filter-owner");
    const chosen = select.value;
    select.replaceChildren(
      el("option", { value: "", text: "Anyone" }),
      ...users.map((user) => el("option", { value: String(user.associate_id), text: user.full_name || user.name })),
    );
    select.value = chosen;
  }

  function renderUsers(users) {
    const tables = [...new Set(users.flatMap((user) => Object.keys(user.rights)))].sort();
    $("users-head").replaceChildren(
      el(
        "tr",
        {},
        el("th", { text: "User and role" }),
        ...tables.map((table) => el("th", { class: "rights-head", text: table })),
      ),
    );
    $("users").replaceChildren(
      ...users.map((user) =>
        el(
          "tr",
          { dataset: { user: user.name } },
          el(
            "td",
            {},
            el("div", {
              class: "user-name",
              text: user.full_name || user.name,
              title: `${user.name} (associate ${user.associate_id})${user.email ? ", " + user.email : ""}`,
            }),
            el("div", { class: "muted small", text: `${user.name} · ${user.role} · group ${user.group_id}` }),
          ),
          ...tables.map((table) => {
            const rights = user.rights[table];
            if (!rights) return el("td", { class: "muted", text: "no right" });
            return el(
              "td",
              { class: "rights" },
              ...["own", "group", "other"].map((relation) =>
                el("span", {
                  class: `right ${rights[relation]}`,
                  text: relation,
                  title: `${relation}: ${rights[relation]}`,
                }),
              ),
            );
          }),
        ),
      ),
    );
  }

  // -- applications and sign-ins --------------------------------------------------------------------
  async function loadApps() {
    const [apps, signIns] = await Promise.all([
      api("applications"),
      api(`journal?wire=${EVENT_WIRE}&operation=SignIn&limit=${SIGN_INS_SHOWN}&bodies=false`),
    ]);
    renderApps(apps.data);
    renderSignIns(signIns.data);
  }

  function uriList(uris, label) {
    return uris.length
      ? el("ul", { class: "uris" }, ...uris.map((uri) => el("li", {}, copyable(uri, label))))
      : el("span", { class: "muted small", text: "none" });
  }

  /** Each application's name, client id, redirect URIs and allowed origins: never its secret. */
  function renderApps(apps) {
    $("apps-empty").hidden = apps.length > 0;
    $("apps").replaceChildren(
      ...apps.map((app) =>
        el(
          "li",
          { class: "card", dataset: { app: app.client_id } },
          el("div", { class: "card-head" }, el("span", { class: "user-name", text: app.name || app.client_id })),
          el(
            "dl",
            { class: "credentials" },
            el("dt", { text: "Client id" }),
            el("dd", { class: "client-id" }, copyable(app.client_id, `${app.name}'s client id`)),
            el("dt", { text: "Redirect URIs" }),
            el("dd", { class: "redirect-uris" }, uriList(app.redirect_uris, "the redirect URI")),
            el("dt", { text: "Allowed origins" }),
            el("dd", { class: "origins" }, uriList(app.allowed_origins, "the origin")),
            el("dt", { text: "System user key" }),
            el("dd", { class: "muted small", text: app.public_key ? "registered" : "none" }),
          ),
        ),
      ),
    );
  }

  function renderSignIns(entries) {
    $("signins-empty").hidden = entries.length > 0;
    $("signins").replaceChildren(
      ...entries.map((entry) =>
        el(
          "tr",
          { dataset: { user: entry.user || "", outcome: entry.outcome } },
          el("td", { text: `${day(entry.at)} ${clock(entry.at)}`, title: entry.at + " UTC" }),
          el("td", { class: "user", text: entry.user || "—" }),
          el("td", {}, el("span", { class: `badge outcome ${outcomeClass(entry.outcome)}`, text: entry.outcome })),
          el("td", { class: "mono", text: entry.message || "" }),
        ),
      ),
    );
  }

  // -- faults -------------------------------------------------------------------------------------
  async function loadFaults() {
    const { data } = await api("faults");
    const counter = $("faults-active");
    counter.textContent = String(data.length);
    counter.hidden = data.length === 0;
    $("faults-empty").hidden = data.length > 0;
    $("faults").replaceChildren(
      ...data.map((rule) =>
        el(
          "tr",
          { dataset: { fault: String(rule.id) } },
          el("td", { class: "num", text: String(rule.id) }),
          el("td", {}, el("span", { class: "badge injected", text: rule.kind })),
          el("td", { text: rule.count === null ? "until removed" : String(rule.count) }),
          el("td", { class: "mono", text: rule.identifiers.length ? rule.identifiers.join(", ") : "any call" }),
          el("td", { text: rule.kind === "latency" ? `${rule.latency_ms} ms` : "" }),
          el(
            "td",
            { class: "num" },
            el("button", {
              type: "button",
              class: "ghost small",
              text: "Remove",
              onclick: () => removeFault(rule.id),
            }),
          ),
        ),
      ),
    );
  }

  async function removeFault(id) {
    try {
      await api(`faults/${id}`, { method: "DELETE" });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 404)) report(error); // 404: already used up
    }
    loadFaults().catch(report);
  }

  function openFaultDialog() {
    $("fault-error").hidden = true;
    syncFaultForm();
    $("fault-dialog").showModal();
  }

  function syncFaultForm() {
    $("fault-latency-row").hidden = $("fault-kind").value !== "latency";
    $("fault-count").disabled = $("fault-forever").checked;
  }

  async function submitFault(event) {
    event.preventDefault();
    const kind = $("fault-kind").value;
    const rule = { kind };
    rule.count = $("fault-forever").checked ? null : Number($("fault-count").value || 1);
    const identifiers = $("fault-identifiers")
      .value.split(/[\s,;]+/)
      .map((text) => text.trim())
      .filter(Boolean);
    if (identifiers.length) rule.identifiers = identifiers;
    if (kind === "latency") rule.latency_ms = Number($("fault-latency").value || 0);
    $("fault-submit").disabled = true;
    try {
      const { data } = await api("faults", { method: "POST", json: rule });
      $("fault-dialog").close();
      const calls = data.count === null ? "every matching call" : `the next ${data.count} call${data.count === 1 ? "" : "s"}`;
      toast(`Fault #${data.id} armed: ${data.kind} for ${calls}.`);
      loadFaults().catch(report);
    } catch (error) {
      $("fault-error").textContent = error.message;
      $("fault-error").hidden = false;
    } finally {
      $("fault-submit").disabled = false;
    }
  }

  // -- journal ------------------------------------------------------------------------------------
  /** A journal entry that is no call (``wire`` superid): what happened, to whom, for which app. */
  function eventRow(entry, fresh) {
    const name = EVENT_NAMES[entry.operation] || entry.operation;
    const detail = [entry.exception_type, entry.message].filter(Boolean).join(": ");
    return el(
      "li",
      {
        class: `entry event outcome-${outcomeClass(entry.outcome)}${fresh ? " fresh" : ""}`,
        dataset: { id: String(entry.id), outcome: entry.outcome, wire: entry.wire, operation: entry.operation },
      },
      el(
        "div",
        { class: "entry-top" },
        el("time", { datetime: entry.at, title: entry.at + " UTC", text: clock(entry.at) }),
        el("span", { class: "operation", text: name, title: `${entry.service}: ${name}` }),
        el("span", { class: "badge wire wire-superid", text: "SuperID", title: "The sign-in, not a call" }),
        el("span", { class: `badge outcome ${outcomeClass(entry.outcome)}`, text: entry.outcome }),
      ),
      el("div", { class: "entry-meta" }, el("span", { class: "user", text: entry.user || "—" })),
      detail && el("div", { class: "entry-detail", text: detail, title: detail }),
    );
  }

  function journalRow(entry, fresh) {
    if (entry.wire === EVENT_WIRE) return eventRow(entry, fresh);
    const identifiers = entry.identifiers.map((id) => (id === null ? "(nil)" : id));
    const shown = identifiers.slice(0, 3).join(", ") + (identifiers.length > 3 ? ` +${identifiers.length - 3}` : "");
    const detail = [entry.exception_type, entry.message].filter(Boolean).join(": ");
    // Where the real NetServer would have refused the request or read it differently (--contract lenient).
    const warnings = entry.contract_warnings || [];
    const warned = warnings.length > 0;
    // A fault injected from the admin API: on the wire it looks like the real thing, here it must not.
    const injected = entry.injected || null;
    const outcome = injected ? "injected" : outcomeClass(entry.outcome);
    return el(
      "li",
      {
        class: `entry outcome-${outcome}${warned ? " contract-warned" : ""}${fresh ? " fresh" : ""}`,
        dataset: { id: String(entry.id), outcome: entry.outcome, warnings: String(warnings.length), injected: injected || "" },
      },
      el(
        "div",
        { class: "entry-top" },
        el("time", { datetime: entry.at, title: entry.at + " UTC", text: clock(entry.at) }),
        el("span", { class: "operation", text: entry.operation, title: entry.wire === "rest" ? `REST Agents/${entry.service}/${entry.operation}` : `${entry.service}.svc / ${entry.operation}` }),
        el("span", { class: `badge wire wire-${entry.wire}`, text: entry.wire === "rest" ? "REST" : "SOAP", title: "The wire the call came by" }),
        el("span", { class: `badge outcome ${outcomeClass(entry.outcome)}`, text: entry.outcome }),
        injected &&
          !entry.outcome.startsWith("injected") &&
          el("span", {
            class: "badge injected marker",
            text: `injected ${injected}`,
            title: "A fault armed on the Faults tab hit this call; the client saw it as the real thing",
          }),
        warned &&
          el("span", {
            class: "badge warn contract",
            text: `${warnings.length} contract warning${warnings.length > 1 ? "s" : ""}`,
            title: "NetServer would have refused this request or read it differently",
          }),
      ),
      el(
        "div",
        { class: "entry-meta" },
        el(
          "span",
          entry.user
            ? { class: "user", text: entry.user }
            : injected
              ? { class: "user", text: "user not checked", title: "The injected fault answered before the ticket was read" }
              : { class: "user", text: "—", title: "Answered before a ticket was read" },
        ),
        shown && el("span", { class: "mono", text: shown, title: identifiers.join(", ") }),
        entry.status && el("span", { text: "→ " + entry.status }),
        el("span", { class: "duration", text: `${entry.duration_ms.toFixed(1)} ms` }),
      ),
      detail && el("div", { class: "entry-detail", text: detail, title: detail }),
      warned && el("ul", { class: "entry-warnings" }, ...warnings.map((sentence) => el("li", { text: sentence }))),
      el("div", { class: "entry-bodies", hidden: true }),
    );
  }

  function bodyBlock(label, body) {
    const text = body === null ? "(not kept: --journal-body-bytes is 0)" : body === "" ? "(empty)" : body;
    return el("section", {}, el("h3", { text: label }), el("pre", { class: "body", text }));
  }

  // A click on a journal entry shows its request and response bodies (read on the first click:
  // the list itself comes without them), another click hides them.
  async function toggleBodies(event) {
    const item = event.target.closest("#journal > li.entry");
    if (!item || event.target.closest(".entry-bodies")) return;
    const box = item.querySelector(".entry-bodies");
    if (!box) return; // an event keeps no bodies
    box.hidden = !box.hidden;
    if (box.hidden || box.dataset.loaded) return;
    const id = Number(item.dataset.id);
    const { data } = await api(`journal?since_id=${id - 1}&limit=1`);
    const entry = data.find((found) => found.id === id);
    box.dataset.loaded = "yes";
    box.replaceChildren(
      ...(entry
        ? [bodyBlock("Request", entry.request_body), bodyBlock("Response", entry.response_body)]
        : [el("p", { class: "empty", text: "This entry is no longer in the journal." })]),
    );
  }

  function trimJournal() {
    const list = $("journal");
    while (list.children.length > JOURNAL_KEEP) list.lastElementChild.remove();
    $("journal-empty").hidden = list.children.length > 0;
  }

  async function loadJournal() {
    const generation = ++state.journalGeneration;
    const { data } = await api(`journal?limit=${JOURNAL_KEEP}&bodies=false`);
    if (generation !== state.journalGeneration) return;
    $("journal").replaceChildren(...data.map((entry) => journalRow(entry, false)));
    state.journalLastId = data.length ? data[0].id : 0;
    state.journalTopAt = data.length ? data[0].at : null;
    state.recent = [];
    remember([...data].reverse());
    trimJournal();
  }

  /** Keep the identifiers the newest calls named (``entries`` oldest first), and show them. */
  function remember(entries) {
    for (const entry of entries) {
      for (const identifier of entry.identifiers) {
        if (!identifier) continue;
        state.recent = [identifier, ...state.recent.filter((known) => known !== identifier)];
      }
    }
    state.recent = state.recent.slice(0, RECENT_KEEP);
    renderRecent();
  }

  function renderRecent() {
    const chip = (identifier, title) =>
      el("button", {
        type: "button",
        class: "chip",
        text: identifier,
        title,
        dataset: { identifier },
        onclick: () => search(identifier),
      });
    $("recent-list").replaceChildren(
      ...(state.recent.length
        ? state.recent.map((identifier) => chip(identifier, `Show ${identifier}`))
        : [el("span", { class: "muted small", text: "no call yet; the examples use " }), chip("appointment_id=666", "Show appointment 666")]),
    );
  }

  /** Show the activities matching ``text`` (on the Activities tab, unless ``stay``). */
  function search(text, stay = false) {
    $("search").value = text;
    state.search = text;
    state.kind = "";
    state.offset = 0;
    if (!stay) showTab("activities");
    refreshSoon(true);
  }

  async function pollJournal() {
    const generation = state.journalGeneration;
    const since = state.journalLastId;
    const answer = await api(`journal?since_id=${since}&bodies=false`);
    // another poll (the loop's, or a tried call's) may have shown some of them meanwhile
    const data = answer.data.filter((entry) => entry.id > state.journalLastId);
    if (generation !== state.journalGeneration || data.length === 0) return false;
    const list = $("journal");
    for (const entry of data) list.prepend(journalRow(entry, true)); // oldest first: newest ends on top
    const newest = data[data.length - 1];
    state.journalLastId = newest.id;
    state.journalTopAt = newest.at;
    remember(data);
    if (journalOutOfSight()) {
      state.unseen += data.length;
      $("journal-unseen").textContent = String(state.unseen);
      $("journal-unseen").hidden = false;
    }
    trimJournal();
    return true;
  }

  async function journalStillThere() {
    // The journal may be cleared or the tenant reset by someone else: then start again from the top.
    const { data } = await api("journal?limit=1&bodies=false");
    const top = data[0];
    if (top ? top.id !== state.journalLastId || top.at !== state.journalTopAt : state.journalLastId !== 0) {
      if (!top || top.id <= state.journalLastId) await loadJournal();
    }
  }

  async function journalLoop() {
    try {
      const arrived = await pollJournal();
      setConnection("ok", "connected");
      if (arrived) refreshSoon(false);
    } catch (error) {
      reportQuietly(error);
    }
    setTimeout(journalLoop, JOURNAL_EVERY_MS);
  }

  // -- webhooks -----------------------------------------------------------------------------------
  const WEBHOOK_STATES = { Active: "ok", Stopped: "neutral", TooManyErrors: "bad", Unknown: "neutral" };

  async function loadWebhooks() {
    const [{ data: hooks }, { data: tries }] = await Promise.all([
      api("webhooks"),
      api("webhooks/deliveries?limit=20"),
    ]);
    const counter = $("webhooks-count");
    counter.textContent = String(hooks.webhooks.length);
    counter.hidden = hooks.webhooks.length === 0;
    $("webhooks-empty").hidden = hooks.webhooks.length > 0;
    $("webhooks").replaceChildren(
      ...hooks.webhooks.map((hook) =>
        el(
          "tr",
          { dataset: { webhook: String(hook.webhook_id) } },
          el("td", { class: "num", text: String(hook.webhook_id) }),
          el("td", { text: hook.name }),
          el("td", { class: "mono", text: hook.events.join(", ") }),
          el("td", { class: "mono", text: hook.target }),
          el("td", {}, el("span", { class: `badge ${WEBHOOK_STATES[hook.state] || "neutral"}`, text: hook.state })),
          el("td", { class: "num", text: String(hook.errors) }),
        ),
      ),
    );
    $("deliveries-empty").hidden = tries.deliveries.length > 0;
    $("deliveries").replaceChildren(
      ...tries.deliveries.map((row) =>
        el(
          "tr",
          { dataset: { delivery: String(row.id) } },
          el("td", { class: "mono", text: `${day(row.at)} ${clock(row.at)}` }),
          el("td", { class: "mono", text: row.event, title: `EventId ${row.event_id}` }),
          el("td", { class: "mono", text: row.target }),
          el("td", { class: "num", text: String(row.attempt) }),
          el(
            "td",
            {},
            el("span", {
              class: `badge ${row.status === 200 ? "ok" : "bad"}`,
              text: row.status === null ? "no answer" : `HTTP ${row.status}`,
              title: row.error || "",
            }),
          ),
        ),
      ),
    );
  }

  // -- refreshing ---------------------------------------------------------------------------------
  async function refresh() {
    await loadActivities();
    renderKinds(await loadCounts());
    await loadFaults();
    if (document.body.dataset.tab === "apps") await loadApps();
    await loadWebhooks();
    await journalStillThere();
  }

  /** Refresh now (or right after the refresh in flight), and again every REFRESH_EVERY_MS. */
  function refreshSoon(filtersChanged) {
    if (filtersChanged) renderKinds(null); // show the chosen kind at once
    clearTimeout(state.refreshTimer);
    if (state.refreshing) {
      state.refreshAgain = true;
      return;
    }
    state.refreshing = refresh()
      .then(() => setConnection("ok", "connected"))
      .catch(reportQuietly)
      .finally(() => {
        state.refreshing = null;
        if (state.refreshAgain) {
          state.refreshAgain = false;
          refreshSoon(false);
        } else {
          state.refreshTimer = setTimeout(() => refreshSoon(false), REFRESH_EVERY_MS);
        }
      });
  }

  // -- actions --------------------------------------------------------------------------------------
  async function resetTenant() {
    const tenant = $("tenant-name").textContent;
    if (!window.confirm(`Reset tenant ${tenant} to its fixtures?\n\nEvery activity, ticket and journal entry of ${tenant} goes back to the start; injected faults are removed.`)) {
      return;
    }
    $("reset-button").disabled = true;
    try {
      await api("reset", { method: "POST" });
      state.statuses.clear();
      state.changedAt.clear();
      await Promise.all([loadJournal(), loadUsers()]);
      refreshSoon(false);
      toast(`Tenant ${tenant} is back to its fixtures.`);
    } catch (error) {
      report(error);
    } finally {
      $("reset-button").disabled = false;
    }
  }

  async function clearJournal() {
    try {
      await api("journal", { method: "DELETE" });
      await loadJournal();
    } catch (error) {
      report(error);
    }
  }

  async function clearFaults() {
    try {
      await api("faults", { method: "DELETE" });
      await loadFaults();
    } catch (error) {
      report(error);
    }
  }

  const TABS = ["activities", "users", "apps", "faults", "webhooks", "journal"];
  const ONE_COLUMN = window.matchMedia("(max-width: 1000px)");

  /** In one column (phones), the journal is a tab; side by side, it is always there. */
  function showTab(name) {
    if (name === "journal" && !ONE_COLUMN.matches) name = "activities";
    document.body.dataset.tab = name;
    for (const tab of TABS) {
      $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
      if (tab !== "journal") $(`view-${tab}`).hidden = tab !== name;
    }
    if (name === "journal") {
      state.unseen = 0;
      $("journal-unseen").hidden = true;
    }
    if (name === "apps") loadApps().catch(reportQuietly);
  }

  function journalOutOfSight() {
    return ONE_COLUMN.matches && document.body.dataset.tab !== "journal";
  }

  // -- try a call -----------------------------------------------------------------------------------
  function xmlText(text) {
    return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function soapEnvelope(identifiers, status, ticket, token) {
    const items = identifiers.map((identifier) => `<a:string>${xmlText(identifier)}</a:string>`).join("");
    return (
      '<?xml version="1.0" encoding="utf-8"?>' +
      `<s:Envelope xmlns:s="${SOAP_ENVELOPE}" xmlns:a="${ARRAYS}" xmlns:t="${SERVICES86}">` +
      `<s:Header>${token ? `<t:ApplicationToken>${xmlText(token)}</t:ApplicationToken>` : ""}` +
      `<t:Credentials><t:Ticket>${xmlText(ticket)}</t:Ticket></t:Credentials></s:Header>` +
      `<s:Body><t:SetActivityStatus><t:ActivityIdentifier>${items}</t:ActivityIdentifier>` +
      `<t:ActivityStatus>${status}</t:ActivityStatus></t:SetActivityStatus></s:Body></s:Envelope>`
    );
  }

  /** What the answer says, in one line: Succeeded, or the exception's type and message. */
  function soapOutcome(response, text) {
    const xml = new DOMParser().parseFromString(text, "application/xml");
    if (xml.querySelector("parsererror")) return { ok: false, text: `HTTP ${response.status}: the answer is not XML` };
    const pick = (name) => {
      const found = xml.getElementsByTagNameNS(SERVICES86, name)[0];
      return found ? found.textContent : null;
    };
    if (pick("Succeeded") === "true") return { ok: true, text: `SOAP ${response.status}: Succeeded` };
    const fault = xml.getElementsByTagName("faultstring")[0] || xml.getElementsByTagNameNS("*", "Text")[0];
    const type = pick("ExceptionType");
    const message = pick("Message") || (fault && fault.textContent) || "";
    return { ok: false, text: `SOAP ${response.status}: ${[type && type.split(".").pop(), message].filter(Boolean).join(": ")}` };
  }

  function restOutcome(response, text) {
    if (response.ok) return { ok: true, text: `REST ${response.status}: done` };
    let data = null;
    try {
      data = JSON.parse(text);
    } catch (error) {
      data = null;
    }
    const type = data && data.ExceptionType ? data.ExceptionType.split(".").pop() : "";
    const message = (data && (data.Message || data.error)) || response.statusText || "";
    return { ok: false, text: `REST ${response.status}: ${[type, message].filter(Boolean).join(": ")}` };
  }

  async function tryCall(event) {
    event.preventDefault();
    const user = state.users.get(Number($("try-user").value));
    const identifiers = $("try-identifiers")
      .value.split(/[\s,;]+/)
      .map((text) => text.trim())
      .filter(Boolean);
    const status = $("try-status").value;
    const wire = $("try-wire").value;
    const result = $("try-result");
    if (!user || !user.tickets.length || identifiers.length === 0) {
      result.textContent = !identifiers.length ? "Name at least one identifier, e.g. appointment_id=666." : "Choose a user with a ticket.";
      result.dataset.ok = "false";
      result.hidden = false;
      return;
    }
    const ticket = user.tickets[0];
    const token = state.applicationToken;
    $("try-send").disabled = true;
    try {
      // The emulator's own public endpoints, from this page (same origin: the cross-site guard lets it in).
      let response;
      if (wire === "soap") {
        response = await fetch(ROOT + SOAP_PATH, {
          method: "POST",
          headers: {
            "Content-Type": "text/xml; charset=utf-8",
            SOAPAction: `"${SERVICES86}/Appointment/SetActivityStatus"`,
          },
          body: soapEnvelope(identifiers, status, ticket, token),
          cache: "no-store",
        });
      } else {
        const headers = { "Content-Type": "application/json", Accept: "application/json", Authorization: `SOTicket ${ticket}` };
        if (token) headers["SO-AppToken"] = token;
        response = await fetch(ROOT + REST_PATH, {
          method: "POST",
          headers,
          body: JSON.stringify({ ActivityIdentifier: identifiers, ActivityStatus: status }),
          cache: "no-store",
        });
      }
      const text = await response.text();
      const outcome = wire === "soap" ? soapOutcome(response, text) : restOutcome(response, text);
      result.textContent = `${user.name}: ${outcome.text}`;
      result.dataset.ok = String(outcome.ok);
    } catch (error) {
      result.textContent = `${user.name}: no answer (${wire === "soap" ? "SOAP" : "REST"}): the connection was closed or the emulator is down`;
      result.dataset.ok = "false";
    } finally {
      result.hidden = false;
      $("try-send").disabled = false;
    }
    if (identifiers.length === 1) search(identifiers[0], true); // its row, where the change shows
    await pollJournal().catch(reportQuietly);
    refreshSoon(false);
  }

  function wire() {
    for (const tab of TABS) $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
    ONE_COLUMN.addEventListener("change", () => showTab(document.body.dataset.tab || "activities"));
    $("try").addEventListener("submit", (event) => tryCall(event).catch(report));
    document.addEventListener("click", (event) => {
      const button = event.target.closest("button.copy");
      if (button) copy(button.dataset.copy);
    });
    $("reset-button").addEventListener("click", resetTenant);
    $("journal").addEventListener("click", (event) => toggleBodies(event).catch(report));
    $("fault-button").addEventListener("click", openFaultDialog);
    $("fault-button-2").addEventListener("click", openFaultDialog);
    $("fault-kind").addEventListener("change", syncFaultForm);
    $("fault-forever").addEventListener("change", syncFaultForm);
    $("fault-form").addEventListener("submit", submitFault);
    $("faults-clear").addEventListener("click", clearFaults);
    $("journal-clear").addEventListener("click", clearJournal);
    $("token-form").addEventListener("submit", (event) => {
      event.preventDefault();
      $("token-dialog").close("ok");
    });
    $("token-forget").addEventListener("click", () => {
      localStorage.removeItem(TOKEN_KEY);
      $("token-dialog").close("");
      toast("The admin token is forgotten in this browser.");
    });
    $("token-button").addEventListener("click", () => {
      state.tokenDismissed = false;
      askToken("Enter the emulator's admin token.").then(start, () => undefined);
    });
    for (const button of document.querySelectorAll("dialog [data-close]")) {
      button.addEventListener("click", () => button.closest("dialog").close(""));
    }
    $("filter-status").addEventListener("change", (event) => {
      state.status = event.target.value;
      state.offset = 0;
      refreshSoon(true);
    });
    $("filter-owner").addEventListener("change", (event) => {
      state.owner = event.target.value;
      state.offset = 0;
      refreshSoon(true);
    });
    let typing = null;
    $("search").addEventListener("input", (event) => {
      clearTimeout(typing);
      typing = setTimeout(() => {
        state.search = event.target.value;
        state.offset = 0;
        refreshSoon(true);
      }, 200);
    });
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("filters-clear").addEventListener("click", () => {
      state.kind = state.status = state.owner = state.search = "";
      state.offset = 0;
      $("filter-status").value = $("filter-owner").value = $("search").value = "";
      refreshSoon(true);
    });
    $("page-prev").addEventListener("click", () => {
      state.offset = Math.max(0, state.offset - PAGE_SIZE);
      refreshSoon(false);
    });
    $("page-next").addEventListener("click", () => {
      state.offset += PAGE_SIZE;
      refreshSoon(false);
    });
  }

  let started = false;
  async function start() {
    try {
      await loadHealth();
      await Promise.all([loadUsers(), loadJournal()]);
    } catch (error) {
      reportQuietly(error);
      setTimeout(start, 3000); // the emulator may be starting, or waiting for the token
      return;
    }
    if (started) return;
    started = true;
    refreshSoon(false);
    setTimeout(journalLoop, JOURNAL_EVERY_MS);
  }

  wire();
  showTab("activities");
  renderKinds(null);
  renderRecent();
  start();
})();
