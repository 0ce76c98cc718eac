// Dirigent operations dashboard, its charts: inline SVG drawn from ``/dashboard/data``, and the
// small DOM helpers the page script (app.js, loaded after this file) shares. No dependencies.
window.DirigentCharts = (() => {
  "use strict";

  const SVG_NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2f6fec", "#14b8a6", "#f59e0b", "#a855f7", "#ef4444", "#64748b"];
  const HEALTH = [
    ["healthy_skus", "Healthy", "#1f9d6b"],
    ["low_skus", "Low", "#e7a313"],
    ["out_of_stock_skus", "Out of stock", "#d64545"],
  ];
  const STAGE_LABELS = {
    placed: "Placed", released: "Released", picked: "Picked", shipped: "Shipped", delivered: "Delivered",
  };

  // --- small DOM helpers --------------------------------------------------------------------

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (value !== undefined && value !== null) node.setAttribute(name, value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function titled(node, text) {
    node.append(svg("title", {}, text));
    return node;
  }

  const int = (n) => new Intl.NumberFormat("en-GB").format(n || 0);

  const shortDay = (day) =>
    new Date(`${day}T00:00:00Z`).toLocaleDateString("en-GB", { day: "2-digit", month: "short", timeZone: "UTC" });

  // --- the charts -----------------------------------------------------------------------------

  // The axis top: four equal whole-number steps (1, 2, 5 x 10^n each) at or above ``value``.
  function niceMax(value) {
    const raw = Math.max(1, Math.ceil(value / 4));
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
    return step * 4;
  }

  function drawOrders(host, chart) {
    const series = chart.series;
    const days = chart.days;
    const totals = days.map((_, i) => series.reduce((sum, s) => sum + s.orders[i], 0));
    const W = 760, H = 260, left = 36, right = 8, top = 12, bottom = 26;
    const max = niceMax(Math.max(0, ...totals));
    const plotW = W - left - right, plotH = H - top - bottom;
    const slot = plotW / days.length, barW = Math.max(6, slot * 0.62);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Orders per channel per day" });
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      root.append(svg("line", { x1: left, x2: W - right, y1: y, y2: y, stroke: "#e3e7ee" }));
      root.append(svg("text", { x: left - 6, y: y + 3, "text-anchor": "end", class: "axis" }, int((max * i) / 4)));
    }
    days.forEach((day, i) => {
      const x = left + slot * i + (slot - barW) / 2;
      let y = top + plotH;
      series.forEach((s, j) => {
        const value = s.orders[i];
        if (!value) return;
        const h = (plotH * value) / max;
        y -= h;
        root.append(titled(svg("rect", {
          x: x.toFixed(1), y: y.toFixed(1), width: barW.toFixed(1), height: h.toFixed(1), rx: 2,
          fill: PALETTE[j % PALETTE.length], class: "bar", "data-series": s.channel, "data-value": value,
        }), `${s.channel} · ${shortDay(day)}: ${value} orders`));
      });
      if (days.length <= 16 || i % 2 === 0) {
        root.append(svg("text", { x: (left + slot * i + slot / 2).toFixed(1), y: H - 8, "text-anchor": "middle", class: "axis" }, shortDay(day)));
      }
    });
    const legend = el("div", { class: "legend" },
      series.map((s, j) => {
        const swatch = el("i");
        swatch.style.background = PALETTE[j % PALETTE.length];
        const sum = s.orders.reduce((a, b) => a + b, 0);
        return el("span", {}, swatch, `${s.channel} (${s.currency}) · ${int(sum)}`);
      }));
    host.replaceChildren(root, legend);
  }

  function drawFunnel(host, steps) {
    const W = 380, rowH = 40, H = steps.length * rowH + 4, labelW = 78, right = 92;
    const placed = steps.length ? steps[0].orders : 0;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Fulfilment funnel" });
    steps.forEach((step, i) => {
      const y = i * rowH + 6;
      const full = W - labelW - right;
      const w = placed ? Math.max(2, (full * step.orders) / placed) : 2;
      root.append(svg("text", { x: 0, y: y + 18, class: "bar-label" }, STAGE_LABELS[step.stage] || step.stage));
      root.append(svg("rect", { x: labelW, y, width: full, height: 26, rx: 4, fill: "#eef2f8" }));
      root.append(titled(svg("rect", {
        x: labelW, y, width: w.toFixed(1), height: 26, rx: 4, fill: "#2f6fec",
        "fill-opacity": (1 - i * 0.13).toFixed(2), class: "bar", "data-stage": step.stage, "data-value": step.orders,
      }), `${step.orders} orders ${STAGE_LABELS[step.stage] || step.stage}`));
      const share = placed ? ` · ${Math.round((100 * step.orders) / placed)}%` : "";
      root.append(svg("text", { x: W - right + 8, y: y + 18, class: "bar-value" }, `${int(step.orders)}${share}`));
    });
    host.replaceChildren(root);
  }

  function drawStock(host, rows) {
    if (!rows.length) {
      host.replaceChildren(el("p", { class: "empty" }, "No locations yet."));
      return;
    }
    const W = 1100, rowH = 24, top = 4, labelW = 190, right = 150;
    const H = rows.length * rowH + top + 4;
    const max = Math.max(1, ...rows.map((r) => r.skus));
    const full = W - labelW - right;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Stock health per location" });
    rows.forEach((row, i) => {
      const y = top + i * rowH;
      root.append(titled(svg("text", { x: 0, y: y + 14, class: "bar-label" }, truncate(row.name, 28)), row.location_id));
      let x = labelW;
      for (const [field, label, color] of HEALTH) {
        const value = row[field];
        if (!value) continue;
        const w = (full * value) / max;
        root.append(titled(svg("rect", {
          x: x.toFixed(1), y, width: w.toFixed(1), height: rowH - 8, fill: color, class: "bar",
          "data-location": row.location_id, "data-health": field, "data-value": value,
        }), `${row.name}: ${value} SKUs ${label.toLowerCase()}`));
        x += w;
      }
      const value = `${int(row.available)} avail · ${int(row.quarantine)} quar.`;
      root.append(svg("text", { x: W - right + 8, y: y + 14, class: "bar-value" }, value));
    });
    const legend = el("div", { class: "legend" }, HEALTH.map(([, label, color]) => {
      const swatch = el("i");
      swatch.style.background = color;
      return el("span", {}, swatch, label);
    }));
    host.replaceChildren(root, legend);
  }

  // A simulation's per-location volume change: units under the candidate rules minus units
  // under the current ones, bars left (fewer) and right (more) of a centre line.
  function drawVolumeDeltas(host, rows) {
    if (!rows.length) {
      host.replaceChildren(el("p", { class: "empty" }, "No volume moved."));
      return;
    }
    const W = 760, rowH = 24, top = 4, labelW = 150, right = 120;
    const H = rows.length * rowH + top + 4;
    const max = Math.max(1, ...rows.map((r) => Math.abs(r.units_delta)));
    const half = (W - labelW - right) / 2, mid = labelW + half;
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Units per location: candidate minus current" });
    root.append(svg("line", { x1: mid, x2: mid, y1: 0, y2: H, stroke: "#c7cedb" }));
    rows.forEach((row, i) => {
      const y = top + i * rowH, d = row.units_delta;
      const w = Math.max(1, (half * Math.abs(d)) / max);
      root.append(svg("text", { x: 0, y: y + 14, class: "bar-label" }, truncate(row.location_id, 22)));
      root.append(titled(svg("rect", {
        x: (d < 0 ? mid - w : mid).toFixed(1), y, width: w.toFixed(1), height: rowH - 8, rx: 2,
        fill: d < 0 ? "#d64545" : d > 0 ? "#1f9d6b" : "#c7cedb", class: "bar",
        "data-location": row.location_id, "data-value": d,
      }), `${row.location_id}: ${int(row.current.units)} → ${int(row.candidate.units)} units`));
      const text = `${d > 0 ? "+" : ""}${int(d)} units · ${row.parcels_delta > 0 ? "+" : ""}${int(row.parcels_delta)} parcels`;
      root.append(svg("text", { x: W - right + 8, y: y + 14, class: "bar-value" }, text));
    });
    host.replaceChildren(root);
  }

  const truncate = (text, n) => (text.length > n ? `${text.slice(0, n - 1)}…` : text);

  return Object.freeze({ el, int, drawOrders, drawFunnel, drawStock, drawVolumeDeltas });
})();
