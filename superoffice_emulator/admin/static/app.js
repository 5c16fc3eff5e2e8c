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

  // {prefix}/_emulator/ui/... -> {prefix}/_emulator/
  const match = window.location.pathname.match(/^(.*\/_emulator)\/ui(?:\/.*)?$/);
  const API = (match ? match[1] : "/_emulator") + "/";

  const $ = (id) => document.getElementById(id);

  const state = {
    kind: "",
    status: "",
    owner: "",
    search: "",
    offset: 0,
    total: 0,
    users: new Map(),
    statuses: new Map(), // identifier -> last status shown, to highlight changes
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
    if (outcome === "ok") return "ok";
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
    const identifier = text.match(/^(appointment|sale|document|todo)_id\s*=\s*(\d+)$/i);
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
        const changed = previous !== undefined && previous !== activity.status;
        state.statuses.set(activity.identifier, activity.status);
        return el(
          "tr",
          {
            class: changed ? "changed" : undefined,
            dataset: { identifier: activity.identifier, status: activity.status },
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
    const { data } = await api("users");
    state.users = new Map(data.map((user) => [user.associate_id, user]));
    renderOwners(data);
    renderUsers(data);
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
  function journalRow(entry, fresh) {
    const identifiers = entry.identifiers.map((id) => (id === null ? "(nil)" : id));
    const shown = identifiers.slice(0, 3).join(", ") + (identifiers.length > 3 ? ` +${identifiers.length - 3}` : "");
    const detail = [entry.exception_type, entry.message].filter(Boolean).join(": ");
    // Where the real NetServer would have refused the request or read it differently (--contract lenient).
    const warnings = entry.contract_warnings || [];
    const warned = warnings.length > 0;
    return el(
      "li",
      {
        class: `entry outcome-${outcomeClass(entry.outcome)}${warned ? " contract-warned" : ""}${fresh ? " fresh" : ""}`,
        dataset: { id: String(entry.id), outcome: entry.outcome, warnings: String(warnings.length) },
      },
      el(
        "div",
        { class: "entry-top" },
        el("time", { datetime: entry.at, title: entry.at + " UTC", text: clock(entry.at) }),
        el("span", { class: "operation", text: entry.operation, title: entry.wire === "rest" ? `REST Agents/${entry.service}/${entry.operation}` : `${entry.service}.svc / ${entry.operation}` }),
        el("span", { class: `badge wire wire-${entry.wire}`, text: entry.wire === "rest" ? "REST" : "SOAP", title: "The wire the call came by" }),
        el("span", { class: `badge outcome ${outcomeClass(entry.outcome)}`, text: entry.outcome }),
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
        el("span", entry.user ? { text: entry.user } : { text: "—", title: "Answered before a ticket was read" }),
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
    trimJournal();
  }

  async function pollJournal() {
    const generation = state.journalGeneration;
    const { data } = await api(`journal?since_id=${state.journalLastId}&bodies=false`);
    if (generation !== state.journalGeneration || data.length === 0) return false;
    const list = $("journal");
    for (const entry of data) list.prepend(journalRow(entry, true)); // oldest first: newest ends on top
    const newest = data[data.length - 1];
    state.journalLastId = newest.id;
    state.journalTopAt = newest.at;
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

  // -- refreshing ---------------------------------------------------------------------------------
  async function refresh() {
    await loadActivities();
    renderKinds(await loadCounts());
    await loadFaults();
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

  function showTab(name) {
    for (const tab of ["activities", "users", "faults"]) {
      $(`tab-${tab}`).setAttribute("aria-selected", String(tab === name));
      $(`view-${tab}`).hidden = tab !== name;
    }
  }

  function wire() {
    for (const tab of ["activities", "users", "faults"]) $(`tab-${tab}`).addEventListener("click", () => showTab(tab));
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
  renderKinds(null);
  start();
})();
