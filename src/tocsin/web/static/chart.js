// The alert page's chart: the metric's values, the alert's limit line, and the runs
// where it fired, was suppressed or resolved; hover shows value, time and reason.
(function () {
  "use strict";
  const box = document.getElementById("chart");
  if (!box) return;
  const tip = document.getElementById("chart-tip");
  const note = document.getElementById("chart-note");

  function pointsOnly(stroke, fill, size) {
    return { stroke: stroke, fill: fill, width: 0, paths: () => null, spanGaps: false,
             points: { show: true, size: size, stroke: stroke, fill: fill, width: 2 } };
  }

  function fmtTime(t) {
    return new Date(t * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function showTip(u, data) {
    const i = u.cursor.idx;
    if (i == null || u.cursor.left < 0) { tip.hidden = true; return; }
    const v = data.value[i];
    let kind = "";
    for (const k of ["fired", "suppressed", "resolved"]) if (data[k][i] != null) kind = k;
    tip.textContent = "";
    const head = document.createElement("b");
    head.textContent = (v == null ? "no value" : v) + (kind ? " · " + kind : "");
    const at = document.createElement("div");
    at.textContent = fmtTime(data.t[i]);
    const why = document.createElement("div");
    why.className = "reason";
    why.textContent = data.reason[i] || "";
    tip.append(head, at, why);
    tip.dataset.kind = kind;
    tip.hidden = false;
    const rect = box.getBoundingClientRect();
    tip.style.left = (rect.left + window.scrollX + u.cursor.left + 60) + "px";
    tip.style.top = (rect.top + window.scrollY + u.cursor.top + 10) + "px";
  }

  fetch(box.dataset.src, { credentials: "same-origin" })
    .then((r) => { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
    .then((data) => {
      box.dataset.fired = data.counts.fired;
      box.dataset.suppressed = data.counts.suppressed;
      box.dataset.resolved = data.counts.resolved;
      box.dataset.points = data.t.length;
      if (data.t.length === 0) {
        note.textContent = "No runs in this range yet.";
        box.dataset.ready = "1";
        return;
      }
      if (data.truncated) note.textContent = "Showing the latest " + data.t.length + " runs.";
      const opts = {
        width: Math.max(box.clientWidth, 320),
        height: 280,
        cursor: { points: { size: 8 } },
        legend: { live: false },
        series: [
          {},
          { label: "Value", stroke: "#2563eb", width: 2, spanGaps: false,
            points: { show: data.t.length < 200, size: 4 } },
          { label: box.dataset.limitLabel, stroke: "#dc2626", width: 1.5, dash: [6, 4],
            points: { show: false } },
          Object.assign({ label: "Fired" }, pointsOnly("#dc2626", "#fecaca", 11)),
          Object.assign({ label: "Suppressed" }, pointsOnly("#d97706", "#fde68a", 10)),
          Object.assign({ label: "Resolved" }, pointsOnly("#16a34a", "#bbf7d0", 10)),
        ],
        hooks: { setCursor: [(u) => showTip(u, data)] },
      };
      const rows = [data.t, data.value, data.limit, data.fired, data.suppressed, data.resolved];
      if (box.dataset.relative === "1") {
        // A relative change: the band between the baseline run and the limit it allows.
        opts.series.push({ label: "Baseline", stroke: "#9ca3af", width: 1, points: { show: false } });
        opts.bands = [{ series: [2, 6], fill: "rgba(220, 38, 38, 0.08)" }];
        rows.push(data.baseline);
      }
      const plot = new uPlot(opts, rows, box);
      box.addEventListener("mouseleave", () => { tip.hidden = true; });
      window.addEventListener("resize", () => plot.setSize({ width: Math.max(box.clientWidth, 320), height: 280 }));
      window.tocsinChart = { plot: plot, data: data };
      box.dataset.ready = "1";
    })
    .catch((err) => { note.textContent = "The chart could not load: " + err.message; });
})();
