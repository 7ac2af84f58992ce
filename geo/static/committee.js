// The committee's page: date picker and play-through over published runs, level filter, palette,
// search, and a side panel per unit with a 60-day chart. Reads only our own API and tiles.
/* global window, document, fetch, URLSearchParams */
function zonesCommittee() {
  "use strict";
  var cfg = JSON.parse(document.getElementById("zones-config").textContent);
  var map = window[cfg.map];
  var layers = {};
  Object.keys(cfg.layers).forEach(function (k) { layers[k] = window[cfg.layers[k]]; });
  var T = cfg.text;
  var state = {run: cfg.run, date: cfg.date, palette: "official", levels: cfg.levels.map(function (l) { return l.id; }),
               runs: [], timer: null, clicked: null};
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g, function (c) {
      return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c];
    });
  };
  var getJSON = function (url) {
    return fetch(url).then(function (r) {
      return r.json().then(function (body) { if (!r.ok) { throw new Error(body.message || r.status); } return body; });
    });
  };
  var num = function (v) { return v === null || v === undefined ? "—" : Number(v).toLocaleString(cfg.lang === "vi" ? "vi-VN" : "en-GB"); };
  var colour = function (id) {
    var l = cfg.levels.filter(function (x) { return x.id === id; })[0];
    return l ? (state.palette === "cb" ? l.cb : l.color) : "#ffffff";
  };
  var label = function (id) { var l = cfg.levels.filter(function (x) { return x.id === id; })[0]; return l ? l.label : (id || "—"); };

  function tileUrl(unit) {
    var q = [];
    if (unit !== "lockdown" && unit !== "differs" && state.palette !== "official") { q.push("palette=" + state.palette); }
    if (unit === "commune" && state.levels.length < cfg.levels.length) { q.push("levels=" + (state.levels.join(",") || "none")); }
    return "/tiles/runs/" + state.run + "/" + unit + "/{z}/{x}/{y}.png" + (q.length ? "?" + q.join("&") : "");
  }
  var control = L.control.layers(null, null, {position: "topleft", collapsed: true}).addTo(map);
  Object.keys(layers).forEach(function (k) { control.addOverlay(layers[k], cfg.names[k]); });
  // The run's commune vector tiles drawn in the page (full runs have them), as an overlay to switch on.
  var vector = null;
  function vectorLayer() {
    var run = state.runs.filter(function (r) { return r.run_id === state.run; })[0];
    if (vector) { control.removeLayer(vector); map.removeLayer(vector); vector = null; }
    if (!run || run.kind !== "full" || !L.vectorGrid) { return; }
    vector = L.vectorGrid.protobuf("/tiles/runs/" + state.run + "/commune/{z}/{x}/{y}.mvt", {
      vectorTileLayerStyles: {commune: function (p) {
        return {fill: true, fillColor: colour(p.level), fillOpacity: 0.75, color: "#555", weight: 0.4};
      }},
      interactive: false, minZoom: 5, maxNativeZoom: 10, maxZoom: 18
    });
    control.addOverlay(vector, T.vector);
  }
  window.zonesApi = {showVector: function () { if (vector) { map.addLayer(vector); } return !!vector; }};

  function redraw() {
    Object.keys(layers).forEach(function (k) {
      var url = tileUrl(k);
      if (layers[k]._url !== url) { layers[k].setUrl(url); }   // same URL: keep the tiles already shown
    });
    legend();
    var on = vector && map.hasLayer(vector);
    vectorLayer();
    if (on && vector) { map.addLayer(vector); }
    var params = new URLSearchParams(window.location.search);
    params.set("date", state.date);
    window.history.replaceState(null, "", "?" + params.toString());
    $("zones-report").href = "/report?date=" + state.date + "&lang=" + cfg.lang;
    params.set("lang", cfg.lang === "vi" ? "en" : "vi");
    $("zones-lang").href = "?" + params.toString();
    if (state.clicked) { showAt(state.clicked); }
  }
  function legend() {
    var run = state.runs.filter(function (r) { return r.run_id === state.run; })[0];
    var counts = run && run.counts ? run.counts.commune : {};
    $("zones-legend-items").innerHTML = cfg.levels.map(function (l) {
      var on = state.levels.indexOf(l.id) >= 0;
      return '<label><input type="checkbox" data-level="' + l.id + '"' + (on ? " checked" : "") + '>' +
        '<span class="zones-chip" style="background:' + colour(l.id) + '"></span>' + esc(l.label) +
        ' (<span class="zones-count" data-level="' + l.id + '">' + num(counts[l.id] || 0) + "</span>)</label>";
    }).join("");
    Array.prototype.forEach.call($("zones-legend-items").querySelectorAll("input"), function (box) {
      box.addEventListener("change", function () {
        state.levels = cfg.levels.map(function (l) { return l.id; }).filter(function (id) {
          var b = $("zones-legend-items").querySelector('input[data-level="' + id + '"]');
          return b && b.checked;
        });
        redraw();
      });
    });
    $("zones-rules").href = "/rulesets/" + (run ? run.ruleset : cfg.ruleset) + "?lang=" + cfg.lang;
  }
  function choose(date) {
    var run = state.runs.filter(function (r) { return r.date === date; })[0];
    if (!run) { return; }
    state.run = run.run_id; state.date = run.date;
    $("zones-date").value = run.date;
    redraw();
  }
  function play() {
    if (state.timer) { window.clearInterval(state.timer); state.timer = null; $("zones-play").textContent = T.play; return; }
    var dates = state.runs.map(function (r) { return r.date; });
    var i = dates.indexOf(state.date);
    if (i < 0 || i === dates.length - 1) { i = -1; }
    $("zones-play").textContent = T.stop;
    state.timer = window.setInterval(function () {
      i += 1;
      if (i >= dates.length) { play(); return; }
      choose(dates[i]);
    }, 1500);
  }
  function chart(h) {
    var w = 300, hgt = 70, n = h.dates.length, bw = w / n;
    var max = Math.max.apply(null, h.cases.concat([1]));
    var bars = h.cases.map(function (c, i) {
      var bh = Math.round(c / max * (hgt - 14));
      return '<rect x="' + (i * bw).toFixed(1) + '" y="' + (hgt - 12 - bh) + '" width="' + Math.max(bw - 1, 1).toFixed(1) +
        '" height="' + bh + '" fill="#444"><title>' + h.dates[i] + ": " + c + "</title></rect>";
    }).join("");
    var strip = h.levels.map(function (lv, i) {
      return '<rect x="' + (i * bw).toFixed(1) + '" y="' + (hgt - 10) + '" width="' + Math.ceil(bw) + '" height="10" fill="' +
        (lv ? colour(lv) : "#ffffff") + '"><title>' + h.dates[i] + ": " + esc(label(lv)) + "</title></rect>";
    }).join("");
    return '<div class="zones-chart-title">' + esc(T.chart) + " (max " + max + ')</div><svg class="zones-chart" viewBox="0 0 ' +
      w + " " + hgt + '" width="' + w + '" height="' + hgt + '">' + bars + strip + "</svg>";
  }
  function panel(u) {
    var rows = [
      [T.declared, u.declared_level ? esc(label(u.declared_level)) + " (" + esc(T.decision) + " " + esc(u.declared_decision) + ")" : "—"],
      [T.why, esc(cfg.lang === "vi" ? u.explanation : u.explanation_en)],
      [T.cases, num(u.community_cases)], [T.population, num(u.population)],
      [T.district, u.district ? esc(u.district.name) + " — " + esc(label(u.district.level)) : "—"],
      [T.province, u.province ? esc(u.province.name) + " — " + esc(label(u.province.level)) : "—"],
      [T.lockdowns, u.lockdowns.length ? u.lockdowns.map(function (l) {
        return esc(l.decision_no) + " (" + esc(T.from) + " " + esc(l.start_date) + (l.end_date ? ", " + esc(T.until) + " " + esc(l.end_date) : "") + ")";
      }).join("<br>") : esc(T.none)]
    ];
    return '<h3><span class="zones-chip" style="background:' + colour(u.level) + '"></span>' + esc(u.name) +
      ' <small>(' + esc(u.code) + ")</small></h3><p class=\"zones-level\">" + esc(label(u.level)) +
      (u.level_differs ? ' <b class="zones-differs-flag">≠ ' + esc(label(u.declared_level)) + "</b>" : "") +
      (u.outbreak_over ? "<br><small>" + esc(T.outbreak_over) + "</small>" : "") + "</p><table>" +
      rows.map(function (r) { return "<tr><th>" + esc(r[0]) + "</th><td>" + r[1] + "</td></tr>"; }).join("") +
      '</table><div id="zones-chart">…</div>';
  }
  function showAt(latlng) {
    state.clicked = latlng;
    var q = "lon=" + latlng.lng + "&lat=" + latlng.lat + "&run=" + state.run;
    getJSON("/api/level?" + q).then(function (u) {
      $("zones-panel-body").innerHTML = panel(u);
      $("zones-panel").hidden = false;
      return getJSON("/api/zones/" + encodeURIComponent(u.code) + "/history?days=60&date=" + state.date);
    }).then(function (h) { $("zones-chart").innerHTML = chart(h); })
      .catch(function (e) { $("zones-panel-body").innerHTML = "<p>" + esc(e.message) + "</p>"; $("zones-panel").hidden = false; });
  }
  var pending = null;
  $("zones-search").addEventListener("input", function () {
    var q = this.value;
    window.clearTimeout(pending);
    pending = window.setTimeout(function () {
      if (q.trim().length < 2) { $("zones-results").innerHTML = ""; return; }
      getJSON("/api/search?q=" + encodeURIComponent(q)).then(function (body) {
        $("zones-results").innerHTML = body.results.map(function (r, i) {
          return '<div class="zones-hit" data-i="' + i + '">' + esc(r.name) + " <small>" +
            esc(r.unit === "province" ? T.province : [r.district_name, r.province_name].filter(Boolean).join(", ")) + "</small></div>";
        }).join("");
        Array.prototype.forEach.call($("zones-results").querySelectorAll(".zones-hit"), function (el) {
          el.addEventListener("click", function () {
            var b = body.results[Number(el.getAttribute("data-i"))].bbox;
            map.fitBounds([[b[1], b[0]], [b[3], b[2]]]);
            $("zones-results").innerHTML = "";
          });
        });
      });
    }, 250);
  });
  $("zones-date").addEventListener("change", function () { choose(this.value); });
  $("zones-play").addEventListener("click", play);
  $("zones-palette").addEventListener("change", function () { state.palette = this.value; redraw(); });
  $("zones-close").addEventListener("click", function () { $("zones-panel").hidden = true; state.clicked = null; });
  map.on("click", function (e) { showAt(e.latlng); });
  getJSON("/api/runs").then(function (body) {
    state.runs = body.runs;
    $("zones-date").innerHTML = body.runs.slice().reverse().map(function (r) {
      return '<option value="' + r.date + '">' + r.date + "</option>";
    }).join("");
    $("zones-date").value = state.date;
    document.body.setAttribute("data-zones-ready", "1");
    redraw();
  });
}
