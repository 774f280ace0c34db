// The charts: the alert page's (the metric's values, the alert's limit line, and the
// runs where it fired, was suppressed or resolved; for an alert with series, the chosen
// series' or its top 10 as lines), the metric page's (values alone) and the alert
// editor's backtest preview. Hover shows value, time and reason.
(function () {
  "use strict";

  function pointsOnly(stroke, fill, size) {
    return { stroke: stroke, fill: fill, width: 0, paths: () => null, spanGaps: false,
             points: { show: true, size: size, stroke: stroke, fill: fill, width: 2 } };
  }

  function pad(n, width) { return String(n).padStart(width || 2, "0"); }

  function fmtTime(t) {
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  // The time axis in UTC, as the tooltips and tables are. Labels are as fine as the tick
  // spacing needs: runs a few seconds apart get seconds, not the same minute repeated.
  // The date is added under the first label and wherever the day changes.
  function axisLabels(splits, incr) {
    let lastDay = null;
    let lastLabel = null;
    return splits.map((t) => {
      if (t == null) return "";
      const d = new Date(t * 1000);
      const day = d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
      const hm = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
      let label;
      if (incr >= 28 * 86400) label = day;
      else if (incr >= 86400) label = day.slice(5);
      else if (incr >= 60) label = hm;
      else if (incr >= 1) label = hm + ":" + pad(d.getUTCSeconds());
      else label = hm + ":" + pad(d.getUTCSeconds()) + "." + pad(d.getUTCMilliseconds(), 3);
      if (incr < 86400 && day !== lastDay) label += "\n" + day.slice(5);
      lastDay = day;
      if (label === lastLabel) return "";  // never the same label twice in a row
      lastLabel = label;
      return label;
    });
  }

  function tipFor(box) {
    if (box.dataset.tip) return document.getElementById(box.dataset.tip);
    const tip = document.createElement("div");
    tip.className = "tip";
    tip.hidden = true;
    document.body.append(tip);
    return tip;
  }

  function showTip(u, box, tip, data) {
    const i = u.cursor.idx;
    if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
    const v = data.value[i];
    let kind = "";
    for (const k of ["fired", "suppressed", "resolved"]) if (data[k][i] != null) kind = k;
    tip.textContent = "";
    const head = document.createElement("b");
    const word = kind === "fired" && box.dataset.firedLabel ? box.dataset.firedLabel.toLowerCase() : kind;
    head.textContent = (v == null ? "no value" : v) + (kind ? " · " + word : "");
    const at = document.createElement("div");
    at.textContent = fmtTime(data.t[i]);
    const why = document.createElement("div");
    why.className = "reason";
    why.textContent = data.reason[i] || "";
    tip.append(head, at, why);
    tip.dataset.kind = kind;
    placeTip(u, box, tip);
  }

  function placeTip(u, box, tip) {
    tip.hidden = false;
    const rect = box.getBoundingClientRect();
    // Kept inside the window: a tip past its right edge would widen the page on a phone.
    const room = document.documentElement.clientWidth - tip.offsetWidth - 4;
    const left = Math.max(0, Math.min(rect.left + u.cursor.left + 60, room));
    tip.style.left = (left + window.scrollX) + "px";
    tip.style.top = (rect.top + window.scrollY + u.cursor.top + 10) + "px";
  }

  // What every time chart shares: size, the x range, the axis labels, the cursor's tip.
  function timeChartOptions(box, data, series, pointSize, onCursor) {
    return {
      width: widthOf(box),
      height: 280,
      cursor: { points: { size: pointSize } },
      legend: { live: false },
      scales: {
        // One run, or runs in the same instant: a minute around them, not an empty range.
        x: { time: true, range: (u, min, max) => {
          const first = data.t[0], last = data.t[data.t.length - 1];
          return first === last ? [first - 30, last + 30] : [min, max];
        } },
      },
      axes: [
        {
          values: (u, splits, axis, space, incr) => axisLabels(splits, incr),
          // Room for the label: a few seconds of runs are labelled to the millisecond.
          space: (u, axis, min, max) => (max - min < 5 ? 110 : 80),
          size: 50,
        },
        {},
      ],
      series: series,
      hooks: { setCursor: [onCursor] },
    };
  }

  function widthOf(box) { return Math.max(box.clientWidth - 12, 240); }

  // Draws ``data`` (aligned arrays, as /chart.json answers) into ``box``. The box's data
  // attributes choose the series: data-limit-label adds the limit line and the markers,
  // data-relative="1" the baseline band.
  function draw(box, data) {
    const note = box.dataset.note ? document.getElementById(box.dataset.note) : null;
    box.dataset.fired = data.counts.fired;
    box.dataset.suppressed = data.counts.suppressed;
    box.dataset.resolved = data.counts.resolved;
    box.dataset.points = data.t.length;
    if (data.t.length === 0) {
      if (note) note.textContent = box.dataset.empty || "No runs in this range yet.";
      box.dataset.ready = "1";
      return null;
    }
    if (data.truncated && note) note.textContent = "Showing the latest " + data.t.length + " runs.";
    const tip = tipFor(box);
    const series = [
      {},
      { label: "Value", stroke: "#2563eb", width: 2, spanGaps: false,
        points: { show: data.t.length < 200, size: 4 } },
    ];
    const rows = [data.t, data.value];
    if (box.dataset.limitLabel) {
      series.push(
        { label: box.dataset.limitLabel, stroke: "#dc2626", width: 1.5, dash: [6, 4],
          points: { show: false } },
        Object.assign({ label: box.dataset.firedLabel || "Fired" }, pointsOnly("#dc2626", "#fecaca", 11)),
        Object.assign({ label: "Suppressed" }, pointsOnly("#d97706", "#fde68a", 10)),
        Object.assign({ label: "Resolved" }, pointsOnly("#16a34a", "#bbf7d0", 10)),
      );
      rows.push(data.limit, data.fired, data.suppressed, data.resolved);
    }
    const opts = timeChartOptions(box, data, series, 8, (u) => showTip(u, box, tip, data));
    if (box.dataset.limitLabel && box.dataset.relative === "1") {
      // A relative change: the band between the baseline run and the limit it allows.
      series.push({ label: "Baseline", stroke: "#9ca3af", width: 1, points: { show: false } });
      opts.bands = [{ series: [2, 6], fill: "rgba(220, 38, 38, 0.08)" }];
      rows.push(data.baseline);
    }
    if (box.dataset.limitLabel && (data.recovery || []).some((v) => v != null)) {
      // A recovery condition of its own: where a firing series resolves.
      series.push({ label: "Recovers", stroke: "#16a34a", width: 1.5, dash: [2, 4],
                    points: { show: false } });
      rows.push(data.recovery);
    }
    const plot = new uPlot(opts, rows, box);
    box.addEventListener("mouseleave", () => { tip.hidden = true; });
    window.addEventListener("resize", () => plot.setSize({ width: widthOf(box), height: 280 }));
    box.dataset.ready = "1";
    return plot;
  }

  // Ten colours told apart (Tableau 10), none the limit line's red.
  const PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                   "#edc948", "#9c755f", "#ff9da7", "#17becf", "#6b7280"];

  function showLinesTip(u, box, tip, data) {
    const i = u.cursor.idx;
    if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
    tip.textContent = "";
    const at = document.createElement("b");
    at.textContent = fmtTime(data.t[i]);
    tip.append(at);
    // Highest first, as the lines are ranked; lines hidden from the legend left out.
    const shown = data.lines
      .map((line, k) => ({ line: line, v: line.value[i], on: u.series[k + 1].show }))
      .filter((x) => x.on && x.v != null)
      .sort((a, b) => b.v - a.v);
    for (const x of shown) {
      const row = document.createElement("div");
      row.textContent = x.line.name + " " + x.v;
      tip.append(row);
    }
    if (!shown.length) {
      const none = document.createElement("div");
      none.textContent = "no value";
      tip.append(none);
    }
    placeTip(u, box, tip);
  }

  // Draws several series as one line each (``data.lines``, aligned on ``data.t``, as
  // /chart.json?series=top answers), with the limit line when every series shares it.
  // A line is drawn across runs that lack its series: this is the overview, and a
  // series' own chart shows where it was missing.
  function drawLines(box, data) {
    const note = box.dataset.note ? document.getElementById(box.dataset.note) : null;
    box.dataset.points = data.t.length;
    box.dataset.lines = data.lines.length;
    if (data.t.length === 0) {
      if (note) note.textContent = box.dataset.empty || "No runs in this range yet.";
      box.dataset.ready = "1";
      return null;
    }
    const notes = [];
    if (data.truncated) notes.push("Showing each series' latest runs.");
    if (box.dataset.relative === "1") {
      notes.push("Each series has its own change limit: choose a series to see it.");
    }
    if (note) note.textContent = notes.join(" ");
    const tip = tipFor(box);
    const series = [{}];
    const rows = [data.t];
    data.lines.forEach((line, k) => {
      series.push({ label: line.name, stroke: PALETTE[k % PALETTE.length], width: 1.5,
                    spanGaps: true, points: { show: data.t.length < 100, size: 3 } });
      rows.push(line.value);
    });
    if (box.dataset.limitLabel && data.limit.some((v) => v != null)) {
      series.push({ label: box.dataset.limitLabel, stroke: "#dc2626", width: 1.5,
                    dash: [6, 4], points: { show: false } });
      rows.push(data.limit);
    }
    const opts = timeChartOptions(box, data, series, 6, (u) => showLinesTip(u, box, tip, data));
    const plot = new uPlot(opts, rows, box);
    box.addEventListener("mouseleave", () => { tip.hidden = true; });
    window.addEventListener("resize", () => plot.setSize({ width: widthOf(box), height: 280 }));
    box.dataset.ready = "1";
    return plot;
  }

  window.tocsinCharts = { draw: draw, drawLines: drawLines, axisLabels: axisLabels };

  // The page's own chart, fetched.
  const box = document.getElementById("chart");
  if (box && box.dataset.src) {
    const note = box.dataset.note ? document.getElementById(box.dataset.note) : null;
    fetch(box.dataset.src, { credentials: "same-origin" })
      .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then((data) => {
        const plot = data.lines ? drawLines(box, data) : draw(box, data);
        window.tocsinChart = { plot: plot, data: data };
      })
      .catch((err) => { if (note) note.textContent = "The chart could not load: " + err.message; });
  }

  // Charts that arrive with their data in a fragment (the editor's preview), after htmx
  // puts them in the page.
  document.addEventListener("htmx:afterSettle", () => {
    // Charts only: the alert page's series rows carry data-series too (their names).
    document.querySelectorAll(".chart[data-series]:not([data-ready])").forEach((found) => {
      const data = JSON.parse(found.dataset.series);
      window.tocsinPreviewChart = { plot: draw(found, data), data: data };
    });
  });
})();
