/* The health dashboard's charts (Chart.js, vendored). Data comes from the page's
   json_script element; clicking a bar or point opens the deliveries behind it. */
(function () {
  "use strict";
  var el = document.getElementById("health-data");
  if (!el || typeof Chart === "undefined") { return; }
  var data = JSON.parse(el.textContent);
  var style = getComputedStyle(document.documentElement);
  var fg = style.getPropertyValue("--body-quiet-color").trim() || "#666";
  var grid = style.getPropertyValue("--hairline-color").trim() || "#e8e8e8";
  Chart.defaults.color = fg;
  Chart.defaults.borderColor = grid;
  Chart.defaults.font.family = style.getPropertyValue("--font-family-primary") || "sans-serif";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  // The deliveries of one period (and outcome), built from the scope's base link.
  function periodUrl(index, outcome) {
    var bounds = data.periods[index];
    var url = data.link_base + (data.link_base.indexOf("?") < 0 ? "?" : "&") +
      "finished_from=" + encodeURIComponent(bounds[0]) +
      "&finished_to=" + encodeURIComponent(bounds[1]);
    return outcome ? url + "&outcome__exact=" + outcome : url;
  }
  function go() {
    return function (event, elements, chart) {
      if (!elements.length) { return; }
      var item = elements[0];
      var ds = chart.data.datasets[item.datasetIndex];
      var url = ds.links ? ds.links[item.index] : periodUrl(item.index, ds.outcome);
      if (url) { window.location.href = url; }
    };
  }
  function hover(event, elements) {
    event.native.target.style.cursor = elements.length ? "pointer" : "default";
  }
  function limitLine(value, label, colour) {
    return { label: label, data: data.labels.map(function () { return value; }),
             borderColor: colour, borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0,
             fill: false, tension: 0 };
  }
  function line(id, datasets, yOptions) {
    var canvas = document.getElementById(id);
    if (!canvas) { return; }
    new Chart(canvas, {
      type: "line",
      data: { labels: data.labels, datasets: datasets },
      options: {
        onClick: go(), onHover: hover, spanGaps: true,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { display: datasets.length > 1, labels: { boxWidth: 12 } } },
        scales: { y: yOptions || { beginAtZero: true } }
      }
    });
  }
  var blue = "#2f6fb0", red = "#d64545", amber = "#d98a00", purple = "#7e57c2";

  var outcomes = document.getElementById("chart-outcomes");
  if (outcomes) {
    new Chart(outcomes, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: data.outcomes.map(function (o) {
          return { label: o.label, data: o.data, backgroundColor: o.colour, outcome: o.key,
                   stack: "outcomes", borderRadius: 2 };
        })
      },
      options: {
        onClick: go(), onHover: hover,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "top", labels: { boxWidth: 12 } } },
        scales: { x: { stacked: true, grid: { display: false } }, y: { stacked: true, beginAtZero: true } }
      }
    });
  }
  line("chart-success", [
    { label: "Success %", data: data.success_rate, borderColor: "#2e9d55",
      backgroundColor: "rgba(46,157,85,.12)", fill: true, tension: 0.25, pointRadius: 2 },
    limitLine(data.limits.success, "Alert below", red)
  ], { suggestedMin: 80, suggestedMax: 100 });
  line("chart-response", [
    { label: "Average", data: data.avg_ms, borderColor: blue, tension: 0.25, pointRadius: 2 },
    { label: "p95", data: data.p95_ms, borderColor: amber, tension: 0.25, pointRadius: 2 },
    limitLine(data.limits.response, "Alert above (avg)", red)
  ]);
  line("chart-duplicates", [
    { label: "Duplicate %", data: data.duplicate_rate, borderColor: purple,
      backgroundColor: "rgba(126,87,194,.12)", fill: true, tension: 0.25, pointRadius: 2 },
    limitLine(data.limits.duplicate, "Review above", red)
  ], { beginAtZero: true, suggestedMax: 60 });

  var reasons = document.getElementById("chart-reasons");
  if (reasons) {
    new Chart(reasons, {
      type: "bar",
      data: { labels: data.reasons.labels,
              datasets: [{ label: "Deliveries", data: data.reasons.data,
                           backgroundColor: data.reasons.colours, links: data.reasons.links,
                           borderRadius: 2 }] },
      options: { indexAxis: "y", onClick: go(), onHover: hover,
                 plugins: { legend: { display: false } },
                 scales: { x: { beginAtZero: true } } }
    });
  }
})();
