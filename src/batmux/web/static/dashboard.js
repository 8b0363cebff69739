// batmux dashboard: plain JavaScript, no build step. Live state from api/events (server-sent
// events), charts from api/history drawn with the vendored uPlot. Every URL is relative, so the
// page works under any path prefix; a ?token= in the page's URL is passed on to every request.
"use strict";
(function () {
  const TOKEN = new URLSearchParams(location.search).get("token");
  const CONFIG = JSON.parse(document.getElementById("batmux-config").textContent);
  const RANGES = { "1 h": 1, "24 h": 24, "7 d": 168 };
  const CHARTS = [
    // [title, unit, series: [history value, label, scale to the unit]]
    ["SoC", "%", [["soc", "SoC", 1]]],
    ["Power", "W", [["power", "power", 1]]],
    ["Voltage", "V", [["voltage", "voltage", 1]]],
    ["Cell spread", "mV", [["cell_delta", "max − min", 1000]]],
  ];
  const state = { batteries: {}, links: {}, sinks: {}, time: 0 };
  const view = { name: null, hours: 1, charts: [], history: null };

  function url(path) {
    if (!TOKEN) return path;
    return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
  }
  function esc(value) {
    return String(value).replace(/[&<>"']/g, (c) => "&#" + c.charCodeAt(0) + ";");
  }
  function fmt(value, digits) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "boolean") return value ? "yes" : "no";
    if (typeof value === "number") return digits === undefined ? String(value) : value.toFixed(digits);
    return esc(value);
  }
  function row(cells, tag) {
    tag = tag || "td";
    return "<tr>" + cells.map((c) => "<" + tag + ">" + c + "</" + tag + ">").join("") + "</tr>";
  }
  function link(name) {
    return '<a href="#/b/' + encodeURIComponent(name) + '">' + esc(name) + "</a>";
  }
  function online(b) {
    return b.online ? '<span class="on">online</span>' : '<span class="off">offline</span>';
  }
  function socBar(soc) {
    if (soc === null || soc === undefined) return "—";
    const pct = Math.max(0, Math.min(100, soc));
    return '<span class="soc"><span style="width:' + pct + '%"></span></span> ' + soc.toFixed(1);
  }

  // -- overview ------------------------------------------------------------------------------
  function statusTable(title, statuses) {
    const names = Object.keys(statuses);
    if (!names.length) return "";
    const rows = names.map((name) => {
      const items = Object.entries(statuses[name]).map(([k, v]) => esc(k) + ": " + fmt(v));
      return row([esc(name), items.join(", ")]);
    });
    return "<h2>" + esc(title) + "</h2><table>" + rows.join("") + "</table>";
  }
  function renderOverview() {
    const head = ["battery", "state", "SoC %", "V", "A", "W", "cell min", "cell max", "Δ cell mV",
      "T max °C", "CVL", "CCL", "DCL", "limit reason", "members", "samples", "errors", "last error"];
    const list = Object.values(state.batteries);
    const rows = list.map((b) => {
      const h = b.health || {};
      const temps = b.temperatures || [];
      const members = b.is_group ? fmt(b.members_online) + " on / " + fmt(b.members_offline) + " off" : "";
      return row([
        link(b.name) + (b.is_group ? ' <span class="tag">bank</span>' : ""),
        online(b), socBar(b.soc), fmt(b.voltage, 2), fmt(b.current, 2), fmt(b.power, 0),
        fmt(b.cell_min, 3), fmt(b.cell_max, 3),
        b.cell_delta === null || b.cell_delta === undefined ? "—" : (b.cell_delta * 1000).toFixed(0),
        fmt(temps.length ? Math.max(...temps) : null, 1),
        fmt(b.charge_voltage_limit, 2), fmt(b.charge_current_limit, 1),
        fmt(b.discharge_current_limit, 1), fmt(b.limit_reason), members,
        fmt(h.samples), fmt(h.errors), fmt(h.last_error),
      ]);
    });
    document.getElementById("overview").innerHTML =
      "<table>" + row(head, "th") + rows.join("") + "</table>" +
      statusTable("Inverter links", state.links) + statusTable("Outputs", state.sinks);
  }

  // -- battery page --------------------------------------------------------------------------
  function cellBars(b) {
    const cells = b.cell_voltages || [];
    if (!cells.length) return "<p>No cell voltages.</p>";
    const lo = Math.min(...cells), hi = Math.max(...cells);
    const floor = lo - Math.max(0.01, (hi - lo) * 0.5);
    const bits = typeof b.balance_bits === "number" ? b.balance_bits : null;
    const bars = cells.map((v, i) => {
      const pct = 10 + (90 * (v - floor)) / (hi - floor || 1);
      let cls = "cell";
      if (v === hi && hi !== lo) cls += " max";
      if (v === lo && hi !== lo) cls += " min";
      const bal = bits !== null && i < 32 && (bits >>> i) & 1;
      if (bal) cls += " bal";
      return '<div class="' + cls + '" title="cell ' + (i + 1) + (bal ? ", balancing" : "") +
        '"><div class="bar" style="height:' + pct.toFixed(1) + '%"></div>' +
        '<div class="v">' + v.toFixed(3) + '</div><div class="n">' + (i + 1) + (bal ? " ⇄" : "") +
        "</div></div>";
    });
    return '<div class="cells">' + bars.join("") + "</div><p>min " + fmt(lo, 3) + " V · max " +
      fmt(hi, 3) + " V · Δ " + ((hi - lo) * 1000).toFixed(0) + " mV" +
      (b.balancing ? ' · <span class="tag">balancing</span>' : "") +
      (bits === null ? "" : " · ⇄ = cell being balanced") + "</p>";
  }
  function table(pairs) {
    return "<table>" + pairs.map(([k, v]) => row([esc(k), v])).join("") + "</table>";
  }
  function switches(b) {
    const control = !b.is_group && CONFIG.controllable.includes(b.name);
    const rows = [["charge", "charge_enabled"], ["discharge", "discharge_enabled"]].map(([sw, key]) => {
      let cell = '<span data-sw="' + sw + '">' + fmt(b[key]) + "</span>";
      if (control && typeof b[key] === "boolean") {
        cell += ' <button data-switch="' + sw + '" data-on="' + !b[key] + '">turn ' +
          (b[key] ? "off" : "on") + "</button>";
      }
      return [sw, cell];
    });
    rows.push(["balancing", fmt(b.balancing)]);
    return table(rows) + (control ? "" : '<p class="note">Read-only (no allow_control).</p>');
  }
  function renderLive() {
    const el = document.getElementById("b-live");
    const b = state.batteries[view.name];
    if (!el) return;
    if (!b) {
      el.innerHTML = "<p>No battery or bank named " + esc(view.name) + ".</p>";
      return;
    }
    const capture = document.getElementById("b-capture");
    if (capture) capture.parentElement.hidden = Boolean(b.is_group);  // a bank has no frames
    const h = b.health || {};
    const healthRows = Object.entries(h).map(([k, v]) => [k, fmt(Array.isArray(v) ? v.join(", ") : v)]);
    el.innerHTML =
      '<div class="cards">' +
      '<section class="card"><h2>State</h2>' + table([
        ["state", online(b)], ["SoC %", socBar(b.soc)], ["voltage V", fmt(b.voltage, 3)],
        ["current A", fmt(b.current, 2)], ["power W", fmt(b.power, 0)],
        ["CVL V", fmt(b.charge_voltage_limit, 2)], ["CCL A", fmt(b.charge_current_limit, 1)],
        ["DCL A", fmt(b.discharge_current_limit, 1)], ["limit reason", fmt(b.limit_reason)],
        ["time to go s", fmt(b.time_to_go)],
      ]) + "</section>" +
      '<section class="card wide"><h2>Cells</h2>' + cellBars(b) + "</section>" +
      '<section class="card"><h2>Temperatures °C</h2>' + table(
        (b.temperatures || []).map((t, i) => ["probe " + (i + 1), fmt(t, 1)])
          .concat([["MOS", fmt(b.mos_temperature, 1)]])) + "</section>" +
      '<section class="card"><h2>Switches</h2>' + switches(b) + "</section>" +
      '<section class="card"><h2>Energy</h2>' + table([
        ["charged kWh", fmt(b.total_charged_kwh, 3)], ["discharged kWh", fmt(b.total_discharged_kwh, 3)],
        ["net kWh", fmt(b.net_kwh, 3)], ["meter cycles", fmt(b.meter_cycles, 2)],
        ["BMS cycles", fmt(b.cycles)], ["charge Ah", fmt(b.charge, 1)],
        ["capacity Ah", fmt(b.capacity, 1)], ["SoH %", fmt(b.soh)],
      ]) + "</section>" +
      '<section class="card"><h2>Health</h2>' + table(healthRows) + "</section>" +
      "</div>";
    el.querySelectorAll("button[data-switch]").forEach((btn) => {
      btn.onclick = () => setSwitch(b.name, btn.dataset.switch, btn.dataset.on === "true", btn);
    });
  }
  async function setSwitch(name, sw, on, btn) {
    btn.disabled = true;
    const path = "api/batteries/" + encodeURIComponent(name) + "/switch/" + sw;
    try {
      const r = await fetch(url(path), {
        method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ on }),
      });
      if (!r.ok) alert(sw + ": " + ((await r.json()).error || r.status));
    } catch (e) {
      alert(sw + ": " + e);
    }
  }

  // -- charts --------------------------------------------------------------------------------
  function chartWidth() {
    const el = document.getElementById("b-charts");
    const box = (el ? el.clientWidth : 600) - 20;
    return Math.max(280, box > 900 ? Math.floor(box / 2) - 16 : box);  // two columns when wide
  }
  function makeCharts() {
    const box = document.getElementById("b-charts");
    view.charts.forEach((c) => c.plot.destroy());
    view.charts = CHARTS.map(([title, unit, series]) => {
      const el = document.createElement("div");
      el.className = "chart";
      box.appendChild(el);
      const opts = {
        title: title + " (" + unit + ")", width: chartWidth(), height: 180,
        series: [{}].concat(series.map(([, label]) => ({ label, stroke: "#2a6fdb", width: 1.5 }))),
        axes: [{}, { size: 60 }],
      };
      return { el, series, plot: new uPlot(opts, [[]].concat(series.map(() => [])), el) };
    });
  }
  function setChartData() {
    const points = view.history || [];
    view.charts.forEach((c) => {
      const data = [points.map((p) => p.t)];
      c.series.forEach(([key, , scale]) => {
        data.push(points.map((p) => (p[key] === null || p[key] === undefined ? null : p[key] * scale)));
      });
      c.plot.setData(data);
      c.el.dataset.points = String(points.length);
    });
  }
  async function loadHistory() {
    const name = view.name;
    const values = CHARTS.flatMap(([, , s]) => s.map(([k]) => k)).join(",");
    const path = "api/history?battery=" + encodeURIComponent(name) + "&hours=" + view.hours +
      "&points=600&values=" + values;
    try {
      const r = await fetch(url(path));
      const body = await r.json();
      if (view.name !== name) return;
      view.history = r.ok ? body.points : [];
      document.getElementById("b-note").textContent = r.ok ? "" : "history: " + (body.error || r.status);
    } catch (e) {
      view.history = [];
    }
    setChartData();
  }
  function appendLive(b) {
    // the newest round, until the next full load; older points beyond the range fall off
    if (!view.history || !b) return;
    const t = state.time;
    const last = view.history[view.history.length - 1];
    if (last && t <= last.t) return;
    const point = { t, n: 1, online: b.online ? 1 : 0 };
    CHARTS.forEach(([, , s]) => s.forEach(([k]) => { point[k] = b[k] === undefined ? null : b[k]; }));
    view.history.push(point);
    const since = t - view.hours * 3600;
    while (view.history.length && view.history[0].t < since) view.history.shift();
    setChartData();
  }

  // -- routing and the live feed -------------------------------------------------------------
  function showBattery(name) {
    view.name = name;
    view.history = null;
    const main = document.getElementById("battery");
    const buttons = Object.keys(RANGES).map((label) =>
      '<button data-hours="' + RANGES[label] + '"' + (RANGES[label] === view.hours ? ' class="sel"' : "") +
      ">" + label + "</button>").join(" ");
    const capture = '<a id="b-capture" href="' + esc(url("api/capture/" + encodeURIComponent(name))) +
      '" download>download frame capture</a>';
    main.innerHTML = '<p><a href="#/">← all batteries</a></p><h2 id="b-name">' + esc(name) +
      "</h2>" + '<div id="b-live"></div><section class="card wide"><h2>History</h2>' +
      '<p class="ranges">' + buttons + ' <span id="b-note"></span></p><div id="b-charts"></div></section>' +
      "<p>" + capture + ' (the last raw frames of this device, for a bug report; ' +
      "<code>batmux decode --capture FILE</code> reads it)</p>";
    main.querySelectorAll("button[data-hours]").forEach((btn) => {
      btn.onclick = () => {
        view.hours = Number(btn.dataset.hours);
        main.querySelectorAll("button[data-hours]").forEach((x) => x.classList.toggle("sel", x === btn));
        loadHistory();
      };
    });
    document.getElementById("overview").hidden = true;
    main.hidden = false;
    renderLive();
    makeCharts();
    loadHistory();
  }
  function route() {
    const match = location.hash.match(/^#\/b\/(.+)$/);
    if (match) {
      showBattery(decodeURIComponent(match[1]));
    } else {
      view.name = null;
      view.charts.forEach((c) => c.plot.destroy());
      view.charts = [];
      document.getElementById("battery").hidden = true;
      document.getElementById("overview").hidden = false;
      if (state.time) renderOverview();
    }
  }
  function connect() {
    const live = document.getElementById("live");
    const source = new EventSource(url("api/events"));
    source.addEventListener("state", (event) => {
      const body = JSON.parse(event.data);
      state.batteries = {};
      body.batteries.forEach((b) => { state.batteries[b.name] = b; });
      state.links = body.links;
      state.sinks = body.sinks;
      state.time = body.time;
      live.textContent = "live · " + new Date(body.time * 1000).toLocaleTimeString();
      live.className = "on";
      if (view.name === null) {
        renderOverview();
      } else {
        renderLive();
        appendLive(state.batteries[view.name]);
      }
    });
    source.onerror = () => {
      live.textContent = "reconnecting…";
      live.className = "off";
    };
  }
  window.addEventListener("hashchange", route);
  window.addEventListener("resize", () => view.charts.forEach((c) => c.plot.setSize({ width: chartWidth(), height: 180 })));
  window.batmux = { state, view };
  connect();
  route();
})();
