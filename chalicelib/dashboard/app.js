// Dirigent operations dashboard: asks for an API key once, reads the JSON API with it and
// renders it; charts.js (loaded first) draws the charts as inline SVG. No dependencies,
// nothing loaded from elsewhere.
(() => {
  "use strict";

  const KEY = "dirigent.apiKey";
  const BASE = location.pathname.replace(/\/dashboard\/?$/, "");
  const DATA_EVERY_MS = 15000;
  const ORDERS_EVERY_MS = 5000;

  const timers = {};
  let selectedOrder = null;

  class AuthError extends Error {}

  // --- small DOM helpers --------------------------------------------------------------------

  const $ = (id) => document.getElementById(id);
  const { el, int, drawOrders, drawFunnel, drawStock, drawVolumeDeltas } = window.DirigentCharts; // charts.js

  const pct = (rate) => (rate === null || rate === undefined ? "–" : `${(rate * 100).toFixed(1)}%`);

  function money(minor, currency) {
    if (minor === null || minor === undefined || minor === "") return "–";
    try {
      const format = new Intl.NumberFormat("en-GB", { style: "currency", currency });
      const digits = format.resolvedOptions().maximumFractionDigits; // JPY 0, KWD 3, EUR 2
      return format.format(minor / 10 ** digits);
    } catch (_) {
      return `${(minor / 100).toFixed(2)} ${currency || ""}`;
    }
  }

  function when(iso) {
    if (!iso) return "–";
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const today = new Date().toDateString() === d.toDateString();
    const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    return today ? time : `${d.toLocaleDateString("en-GB", { day: "2-digit", month: "short" })} ${time}`;
  }

  const badge = (status) => el("span", { class: `badge ${status}` }, String(status || "").replace(/_/g, " "));

  // --- the API --------------------------------------------------------------------------------

  async function api(path, key = localStorage.getItem(KEY)) {
    const resp = await fetch(BASE + path, { headers: { Authorization: `Bearer ${key}` } });
    if (resp.status === 401 || resp.status === 403) {
      const body = await resp.json().catch(() => ({}));
      throw new AuthError((body.error && body.error.message) || "the key was refused");
    }
    if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
    return resp.json();
  }

  // --- the key ----------------------------------------------------------------------------------

  function askForKey(message) {
    stopPolling();
    $("main").hidden = true;
    $("key-dialog").hidden = false;
    $("key-error").textContent = message || "";
    $("key-input").value = "";
    $("key-input").focus();
  }

  async function onKeySubmit(event) {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    $("key-error").textContent = "";
    try {
      const data = await api("/dashboard/data", key);
      localStorage.setItem(KEY, key);
      $("key-dialog").hidden = true;
      start(data);
    } catch (err) {
      $("key-error").textContent = err instanceof AuthError ? err.message : "The API cannot be reached.";
    }
  }

  // --- refresh loops ------------------------------------------------------------------------------

  function stopPolling() {
    for (const name of Object.keys(timers)) clearTimeout(timers[name]);
  }

  function loop(name, every, task) {
    const run = async () => {
      try {
        await task();
        setLive(true);
      } catch (err) {
        if (err instanceof AuthError) {
          localStorage.removeItem(KEY);
          askForKey("The key was refused. Enter another one.");
          return;
        }
        setLive(false);
      }
      timers[name] = setTimeout(run, every);
    };
    timers[name] = setTimeout(run, 0);
  }

  function setLive(ok) {
    $("live").className = ok ? "live on" : "live off";
    $("live").textContent = ok ? "live" : "offline";
  }

  function start(initial) {
    $("main").hidden = false;
    if (initial) renderData(initial);
    loop("data", DATA_EVERY_MS, async () => renderData(await api("/dashboard/data")));
    loop("orders", ORDERS_EVERY_MS, refreshOrders);
    loop("simulation", DATA_EVERY_MS, refreshSimulation);
  }

  // --- the latest rule simulation ---------------------------------------------------------------

  async function refreshSimulation() {
    const sim = (await api("/sourcing-rules/simulations")).latest;
    const body = $("sim-totals").tBodies[0];
    if (!sim) {
      $("sim-status").textContent = "none yet";
      body.replaceChildren(el("tr", {}, el("td", { colspan: 3, class: "muted" }, "No simulation has run.")));
      drawVolumeDeltas($("chart-simulation"), []);
      return;
    }
    const p = sim.progress;
    $("sim-status").textContent = `${sim.status} · ${int(p.done)}/${p.total === null ? "?" : int(p.total)} orders · ${sim.period.from} – ${sim.period.to}`;
    $("sim-title").textContent = `rules v${sim.current_version} vs candidate${sim.activated_version ? ` (activated as v${sim.activated_version})` : ""}`;
    const r = sim.results;
    if (!r) return;
    const cur = r.current, cand = r.candidate;
    const row = (label, a, b) => el("tr", {}, el("td", {}, label), el("td", { class: "num" }, a), el("td", { class: "num" }, b));
    const num = (v) => (v === null || v === undefined ? "–" : String(v));
    body.replaceChildren(
      row("Orders replayed", int(r.orders_replayed), `${int(r.not_replayable)} not replayable`),
      row("Unplaceable", int(cur.unplaceable), int(cand.unplaceable)),
      row("Cost to serve (minor units)", int(cur.cost_to_serve), int(cand.cost_to_serve)),
      row("Margin (minor units)", num(cur.margin), num(cand.margin)),
      row("Avg promise (days)", num(cur.avg_promise_days), num(cand.avg_promise_days)),
      row("Promised on time", pct(cur.on_time_share), pct(cand.on_time_share)),
      row("Split rate", pct(cur.split_rate), pct(cand.split_rate)),
      row("Parcels", int(cur.parcels), int(cand.parcels)));
    drawVolumeDeltas($("chart-simulation"), r.locations);
  }

  // --- KPIs, charts and low stock -------------------------------------------------------------

  function renderData(data) {
    const k = data.kpis;
    $("as-of").textContent = `as of ${when(data.as_of)}`;
    $("kpi-orders").textContent = int(k.orders_today);
    $("kpi-orders-sub").textContent = `${int(k.units_today)} units`;
    setRate("kpi-fill", k.fill_rate, 0.95, 0.85);
    $("kpi-fill-sub").textContent = `units shipped / ordered · ${k.window_days} days`;
    setRate("kpi-ontime", k.on_time_rate, 0.95, 0.85);
    $("kpi-ontime-sub").textContent = `by the promised date · ${k.window_days} days`;
    $("kpi-backorders").textContent = int(k.open_backorders);
    $("kpi-backorders-sub").textContent = `${int(k.open_backorder_units)} units waiting for stock`;
    $("kpi-low").textContent = int(k.low_stock);
    $("kpi-low").className = `value ${k.low_stock ? "warn" : "good"}`;
    $("funnel-window").textContent = `last ${k.window_days} days`;
    drawOrders($("chart-orders"), data.orders_per_day);
    drawFunnel($("chart-funnel"), data.funnel);
    drawStock($("chart-stock"), data.stock_health);
    renderLowStock(data.low_stock, k.low_stock);
    renderFeeds(data.feed_ages || []);
    renderRejected(data.rejected_orders || []);
    renderOperations(data.operations);
  }

  function renderFeeds(rows) {
    const body = $("feeds").tBodies[0];
    if (!rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No location has a feed interval.")));
      return;
    }
    const level = { fresh: "good", stale: "warn", skipped: "bad" };
    body.replaceChildren(...rows.map((r) => el("tr", {},
      el("td", {}, r.name),
      el("td", { class: "num" }, r.feed_age_minutes === null ? "never" : int(r.feed_age_minutes)),
      el("td", { class: "num" }, int(r.feed_interval_minutes)),
      el("td", { class: "num" }, r.feed_stale_limit_minutes === null ? "4×" : int(r.feed_stale_limit_minutes)),
      el("td", { class: level[r.feed_status] || "" }, r.feed_status))));
  }

  function renderOperations(ops) {
    if (!ops) return;
    $("dlqs").tBodies[0].replaceChildren(...ops.dlqs.map((q) => el("tr", {},
      el("td", {}, el("code", {}, q.queue)),
      el("td", { class: `num ${q.visible ? "bad" : ""}` }, q.visible === null ? "?" : int(q.visible)),
      el("td", { class: "num" }, q.in_flight === null ? "?" : int(q.in_flight)))));
    const body = $("failures").tBodies[0];
    if (!ops.failures.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "No recent failures.")));
      return;
    }
    body.replaceChildren(...ops.failures.map((f) => el("tr", {},
      el("td", {}, when(f.at)),
      el("td", {}, f.consumer),
      el("td", {}, el("code", {}, f.message_id)),
      el("td", {}, f.reason))));
  }

  function renderRejected(rows) {
    const body = $("rejected").tBodies[0];
    if (!rows.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 5, class: "muted" }, "No rejected orders.")));
      return;
    }
    body.replaceChildren(...rows.map((r) => el("tr", {},
      el("td", {}, when(r.last_attempt_at)),
      el("td", {}, `${r.channel} · ${r.platform}`),
      el("td", {}, el("code", {}, r.platform_order_id)),
      el("td", {}, r.reason.message + (r.reason.fields || []).map((f) => ` · ${f.path}: ${f.reason}`).join("")),
      el("td", { class: "num bad" }, int(r.attempts)))));
  }

  function setRate(id, rate, good, fair) {
    $(id).textContent = pct(rate);
    const level = rate === null ? "" : rate >= good ? "good" : rate >= fair ? "warn" : "bad";
    $(id).className = `value ${level}`;
  }

  function renderLowStock(items, count) {
    $("low-count").textContent = count > items.length ? `${items.length} of ${count}` : `${count} items`;
    const body = $("low-stock").tBodies[0];
    if (!items.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Nothing is low.")));
      return;
    }
    body.replaceChildren(...items.map((it) => el("tr", {},
      el("td", {}, el("code", {}, it.sku)),
      el("td", {}, it.location_id),
      el("td", { class: "num" }, int(it.available)),
      el("td", { class: "num" }, int(it.reorder_point)))));
  }

  // --- live orders and the drill-down ---------------------------------------------------------

  async function refreshOrders() {
    const page = await api("/orders?limit=20");
    const body = $("orders").tBodies[0];
    if (!page.orders.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "No orders in the last 30 days.")));
      return;
    }
    body.replaceChildren(...page.orders.map((o) => {
      const units = o.lines.reduce((sum, l) => sum + l.quantity, 0);
      const from = [...new Set(o.shipments.map((s) => s.location_id))].join(", ") || "–";
      const row = el("tr", { "data-order-id": o.order_id, class: o.order_id === selectedOrder ? "selected" : null },
        el("td", {}, when(o.created_at)),
        el("td", {}, o.channel_order_id),
        el("td", {}, o.channel),
        el("td", {}, badge(o.status)),
        el("td", { class: "num" }, units),
        el("td", {}, (o.delivery && o.delivery.promised_date) || "–"),
        el("td", {}, from));
      row.addEventListener("click", () => openOrder(o.order_id));
      return row;
    }));
  }

  async function openOrder(orderId) {
    selectedOrder = orderId;
    for (const row of $("orders").tBodies[0].rows) {
      row.classList.toggle("selected", row.dataset.orderId === orderId);
    }
    $("drawer").hidden = false;
    $("drawer-title").textContent = "Loading…";
    $("drawer-sub").textContent = orderId;
    $("drawer-body").replaceChildren();
    try {
      renderOrder(await api(`/orders/${encodeURIComponent(orderId)}`));
    } catch (err) {
      $("drawer-title").textContent = "Order not available";
      $("drawer-body").replaceChildren(el("p", { class: "error" }, err.message));
    }
  }

  function renderOrder(o) {
    const d = o.delivery || {};
    const cost = d.cost || {};
    $("drawer-title").replaceChildren(`Order ${o.channel_order_id} `, badge(o.status));
    $("drawer-sub").textContent = `${o.order_id} · ${o.channel} · placed ${when(o.created_at)}`;
    const saved = typeof d.nearest_cost === "number" && typeof cost.total === "number" ? d.nearest_cost - cost.total : null;
    const facts = el("dl", { class: "facts" },
      fact("Customer", (o.customer && o.customer.email) || "–"),
      fact("Ship to", [o.ship_to.postal_code, o.ship_to.city, o.ship_to.country].filter(Boolean).join(" ")),
      fact("Delivery", `${d.kind || "–"} · ${money(d.price, o.currency)}`),
      fact("Promised", d.promised_date || "–"),
      fact("Cost to serve", money(cost.total, o.currency)),
      fact("vs nearest", saved === null ? "–" : `${money(d.nearest_cost, o.currency)} (saved ${money(saved, o.currency)})`));
    const shipments = el("table", { class: "table" },
      el("thead", {}, el("tr", {}, el("th", {}, "Shipment"), el("th", {}, "From"), el("th", {}, "Status"), el("th", {}, "Tracking"))),
      el("tbody", {}, o.shipments.map((s) => el("tr", {},
        el("td", {}, `${Object.entries(s.lines).map(([sku, q]) => `${q}× ${sku}`).join(", ") || "–"}`),
        el("td", {}, s.location_id),
        el("td", {}, badge(s.status)),
        el("td", {}, s.tracking_number ? `${s.carrier || ""} ${s.tracking_number}` : "–")))));
    const history = [...o.history].sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
    const timeline = el("ol", { class: "timeline", id: "order-timeline" }, history.map((h) => el("li", {},
      el("div", { class: "what" }, h.event.replace(/_/g, " "), h.detail && h.detail.late ? " (late)" : ""),
      el("div", { class: "when" }, `${when(h.at)} · ${h.source}${h.shipment_id ? ` · ${h.shipment_id}` : ""}`))));
    $("drawer-body").replaceChildren(
      facts,
      el("h4", {}, "Shipments"), shipments,
      el("h4", {}, "Timeline"), timeline,
      el("h4", {}, "Sourcing explanation"), explanation(o.explanation || []));
  }

  function fact(label, value) {
    return [el("dt", {}, label), el("dd", {}, value)];
  }

  const OUTCOMES = {
    chosen: "chosen",
    slower: "not chosen: slower",
    costlier: "not chosen: costlier",
    partial_stock_costlier: "not chosen: partial stock, costlier",
  };

  function explanation(entries) {
    if (!entries.length) return el("p", { class: "muted" }, "No sourcing explanation (backordered at capture).");
    const head = entries.find((e) => e.kind);
    const items = entries.filter((e) => !e.kind).map((e) => {
      const numbers = e.cost ? ` · cost ${e.cost.total} · by ${e.promised_date}` : "";
      if (e.location_id) {
        const text = OUTCOMES[e.outcome] || e.outcome.replace(/_/g, " ");
        return el("li", {}, el("span", {}, e.location_id),
          el("span", { class: e.outcome === "chosen" ? "chosen" : "muted" }, (e.units ? `${text} · ${e.units} units` : text) + numbers));
      }
      if (e.alternative) {
        return el("li", {}, el("span", {}, `${e.alternative}: ${(e.location_ids || []).join(", ")}`),
          el("span", { class: "muted" }, `not chosen: ${e.outcome.replace(/_/g, " ")}${numbers}`));
      }
      return el("li", {}, el("span", {}, `${e.count} location(s)`),
        el("span", { class: "muted" }, `${e.outcome.replace(/_/g, " ")}: ${(e.location_ids || []).join(", ")}`));
    });
    return el("div", { id: "order-explanation" },
      head ? el("p", { class: "muted" }, `Option ${head.kind} · rules v${head.rules_version}`) : null,
      el("ul", { class: "explain" }, items));
  }

  // --- start -------------------------------------------------------------------------------------

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", onKeySubmit);
    $("change-key").addEventListener("click", () => {
      localStorage.removeItem(KEY);
      askForKey("");
    });
    $("drawer-close").addEventListener("click", () => {
      $("drawer").hidden = true;
      selectedOrder = null;
    });
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape") $("drawer").hidden = true;
    });
    if (localStorage.getItem(KEY)) start(null);
    else askForKey("");
  });
})();
