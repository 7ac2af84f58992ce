// The committee's page (an ES module; geo/serve/viewer.py makes the page with Folium).
//
// Geometry: the boundary version's shape tiles (/tiles/shapes/<id>/z/x/y.mvt), decoded once per tile
// and kept as Path2D objects. Colour: a day's levels table (/tiles/runs/<run>/map-levels.json), one
// character per unit. Changing the date, the level filter or the palette re-draws the tiles from the
// paths already held, synchronously: no request, no frame in a wrong colour. Districts and provinces
// are outlines only, so every commune shows exactly its level's colour.
import Pbf from "pbf";
import {VectorTile} from "@mapbox/vector-tile";

const cfg = JSON.parse(document.getElementById("zones-config").textContent);
const map = window[cfg.map];
const T = cfg.text;
const $ = (id) => document.getElementById(id);
const DPR = Math.min(window.devicePixelRatio || 1, 2);
const NATIVE = cfg.max_native_zoom;
const PHONE = window.matchMedia("(max-width: 640px)");
// Decoded shape tiles kept in memory (least recently used go first): a province is a few dozen.
const MAX_DATA_TILES = 400;

const state = {
  run: cfg.run, date: cfg.date, palette: "official", shown: new Set(cfg.levels.map((l) => l.id)),
  table: null, index: null, sid: cfg.shapes, selected: null, names: true, lockdowns: true, differsShown: true,
  timer: null, hot: [], hotTotal: 0, hotPage: 100, declared: {}, differs: new Set(),
  // the levels in force (the committee's decisions) or the computed proposal; unit -> Map(index -> level in force)
  view: "in_force", inForce: {},
};
const tables = new Map();     // run id -> Promise of its levels table
const indexes = new Map();    // shapes id -> Promise of its index
const lockdownData = new Map(); // run id -> Promise of its lockdown GeoJSON

const esc = (s) => String(s === null || s === undefined ? "" : s).replace(/[&<>"']/g,
  (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const num = (v) => (v === null || v === undefined || Number.isNaN(Number(v)) ? "—"
  : Number(v).toLocaleString(cfg.lang === "vi" ? "vi-VN" : "en-GB"));
const fmt = (text, vars) => text.replace(/\{(\w+)\}/g, (_, k) => vars[k]);
const day = (iso) => (iso ? iso.slice(8, 10) + "/" + iso.slice(5, 7) + "/" + iso.slice(0, 4) : "");
const getJSON = (url) => fetch(url).then((r) => r.json().then((body) => {
  if (!r.ok) { throw new Error(body.message || String(r.status)); }
  return body;
}));
const levelById = Object.fromEntries(cfg.levels.map((l) => [l.id, l]));
const colour = (id) => { const l = levelById[id]; return l ? (state.palette === "cb" ? l.cb : l.color) : "#ffffff"; };
const label = (id) => (levelById[id] ? levelById[id].label : "—");
const RANK = {very_high_risk: 4, high_risk: 3, risk: 2, safe: 1, unknown: 0};
// The citizens' lookup (/tra-cuu) draws the same map from the levels in force only: its own table, a unit's level
// in force and decision, search; no proposal, no list, no cases.
const PUBLIC = Boolean(cfg.public);
if (PUBLIC) {           // a unit no decision has announced is "not announced", drawn in the unknown colour
  levelById.unknown.label = T.not_announced;
}

function table(runId) {
  if (!tables.has(runId)) { tables.set(runId, getJSON(PUBLIC ? "/tra-cuu/levels.json" : `/tiles/runs/${runId}/map-levels.json`)); }
  return tables.get(runId);
}
function shapesIndex(sid) {
  if (!indexes.has(sid)) { indexes.set(sid, getJSON(`/tiles/shapes/${sid}/index.json`)); }
  return indexes.get(sid);
}
function lockdowns(runId) {
  if (PUBLIC) { return Promise.resolve({type: "FeatureCollection", features: []}); }
  if (!lockdownData.has(runId)) { lockdownData.set(runId, getJSON(`/api/lockdowns.geojson?run=${runId}`)); }
  return lockdownData.get(runId);
}
// the computed level of unit i in the current table (a level id, or null when the run does not have the unit)
function levelOf(unit, i) {
  const t = state.table && state.table.units[unit];
  if (!t || i < 0 || i >= t.level.length) { return null; }
  const k = t.level.charCodeAt(i) - 48;
  return k >= 0 && k < state.table.levels.length ? state.table.levels[k] : null;
}
// the level the map shows: the one in force (the committee's decision) where there is one and that view is on,
// else the computed one
function shownLevel(unit, i) {
  if (PUBLIC) { return levelOf(unit, i) || "unknown"; }
  if (state.view === "in_force") {
    const decided = state.inForce[unit] && state.inForce[unit].get(i);
    if (decided) { return decided; }
  }
  return levelOf(unit, i);
}

// ---- shape tiles: fetch, decode, draw ------------------------------------------------------
const dataTiles = new Map();
const decoded = new Map();
function dataKey(c) {
  const dz = Math.max(0, c.z - NATIVE);
  return {z: c.z - dz, x: c.x >> dz, y: c.y >> dz, dz};
}
function decode(buf, z, x, y) {
  const vt = new VectorTile(new Pbf(buf));
  const out = {z, x, y, layers: {}};
  for (const name of ["commune", "district", "province", "label"]) {
    const layer = vt.layers[name];
    if (!layer) { continue; }
    const feats = [];
    for (let k = 0; k < layer.length; k++) {
      const f = layer.feature(k);
      const rings = f.loadGeometry();
      if (name === "label") {
        feats.push({u: f.properties.u, i: f.properties.i, name: f.properties.name, w: f.properties.w,
                    x: rings[0][0].x, y: rings[0][0].y});
        continue;
      }
      const path = new Path2D();
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const ring of rings) {
        path.moveTo(ring[0].x, ring[0].y);
        for (let j = 1; j < ring.length; j++) {
          const p = ring[j];
          path.lineTo(p.x, p.y);
          if (p.x < x0) { x0 = p.x; } if (p.x > x1) { x1 = p.x; } if (p.y < y0) { y0 = p.y; } if (p.y > y1) { y1 = p.y; }
        }
        path.closePath();
      }
      feats.push({i: f.properties.i, path, box: [x0, y0, x1, y1]});
    }
    out.layers[name] = {extent: layer.extent, feats};
  }
  return out;
}
function loadData(sid, z, x, y) {
  const key = `${sid}/${z}/${x}/${y}`;
  if (dataTiles.has(key)) {
    const p = dataTiles.get(key);
    dataTiles.delete(key);
    dataTiles.set(key, p);
    return p;
  }
  const p = fetch(`/tiles/shapes/${sid}/${z}/${x}/${y}.mvt`)
    .then((r) => (r.status === 200 ? r.arrayBuffer() : null))
    .then((buf) => { const d = buf ? decode(buf, z, x, y) : {z, x, y, layers: {}}; decoded.set(key, d); return d; });
  dataTiles.set(key, p);
  if (dataTiles.size > MAX_DATA_TILES) {
    const oldest = dataTiles.keys().next().value;
    dataTiles.delete(oldest);
    decoded.delete(oldest);
  }
  return p;
}

const OUTLINE = {commune: "rgba(255,255,255,0.75)", hidden: "#b8bcc2", district: "#4b4f56", province: "#17191c",
                 differs: "#000000", differsInner: "#ffffff", lockdown: "#3b0052", pick: "#000000", pickInner: "#ffffff",
                 mark: "#1b1b1b"};
// The levels a member looks for first: never under a name, and marked when too small to see.
const HOT = new Set(["high_risk", "very_high_risk"]);
// A red or orange commune narrower than this (CSS px) gets a round mark of its colour, so "where is red" is
// answered at the home view; a commune narrower than COMMUNE_EDGE_PX has no white outline (it would wash out).
const MARK_PX = 8;
const COMMUNE_EDGE_PX = 10;


function draw(canvas) {
  const z = canvas._zones;
  if (!z) { return; }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const L = z.data.layers;
  const any = L.commune || L.district || L.province;
  if (!state.table || !any) { return; }
  const ext = any.extent;
  const dz = z.coords.z - z.data.z;
  const s = (256 * DPR * (1 << dz)) / ext;
  const ox = (z.coords.x - (z.data.x << dz)) * 256 * DPR;
  const oy = (z.coords.y - (z.data.y << dz)) * 256 * DPR;
  ctx.setTransform(s, 0, 0, s, -ox, -oy);
  const px = DPR / s;
  const zoom = z.coords.z;
  ctx.lineJoin = "round";
  if (L.commune) {
    const hidden = [];
    for (const f of L.commune.feats) {
      const id = shownLevel("commune", f.i);
      if (!id || !state.shown.has(id)) { hidden.push(f); continue; }
      const fill = colour(id);
      ctx.fillStyle = fill;
      ctx.fill(f.path, "evenodd");
      // the fill's own colour over its edge: no hairline of background between neighbours
      ctx.strokeStyle = fill;
      ctx.lineWidth = px;
      ctx.stroke(f.path);
    }
    if (zoom >= 9) {
      ctx.strokeStyle = OUTLINE.commune;
      ctx.lineWidth = 0.6 * px;
      const edge = COMMUNE_EDGE_PX * px;
      for (const f of L.commune.feats) {
        if (f.box[2] - f.box[0] >= edge || f.box[3] - f.box[1] >= edge) { ctx.stroke(f.path); }
      }
    }
    if (hidden.length && zoom >= 7) {
      ctx.strokeStyle = OUTLINE.hidden;
      ctx.lineWidth = 0.7 * px;
      for (const f of hidden) { ctx.stroke(f.path); }
    }
    if (state.differsShown && state.differs.size) {
      const rail = L.commune.feats.filter((f) => state.differs.has(f.i));
      ctx.strokeStyle = OUTLINE.differs;
      ctx.lineWidth = 3.2 * px;
      for (const f of rail) { ctx.stroke(f.path); }
      ctx.strokeStyle = OUTLINE.differsInner;
      ctx.lineWidth = 1.4 * px;
      ctx.setLineDash([4 * px, 3 * px]);
      for (const f of rail) { ctx.stroke(f.path); }
      ctx.setLineDash([]);
    }
  }
  if (L.district && zoom >= 7) {
    ctx.strokeStyle = OUTLINE.district;
    ctx.lineWidth = (zoom >= 9 ? 1.3 : 0.9) * px;
    for (const f of L.district.feats) { ctx.stroke(f.path); }
  }
  if (L.province) {
    ctx.strokeStyle = OUTLINE.province;
    ctx.lineWidth = (zoom >= 8 ? 2.2 : 1.4) * px;
    for (const f of L.province.feats) { ctx.stroke(f.path); }
  }
  if (L.commune) { drawMarks(ctx, L.commune.feats, px); }
  const sel = state.selected;
  if (sel && L[sel.unit]) {
    for (const f of L[sel.unit].feats) {
      if (f.i !== sel.i) { continue; }
      ctx.strokeStyle = OUTLINE.pick;
      ctx.lineWidth = 5 * px;
      ctx.stroke(f.path);
      ctx.strokeStyle = OUTLINE.pickInner;
      ctx.lineWidth = 2 * px;
      ctx.stroke(f.path);
    }
  }
}

// Red and orange communes too small to see at this zoom: a round mark of their colour at their middle, over
// the outlines (a member finds red without zooming). Orange first and smaller, red last and larger: where thousands
// of communes are orange (a bad month nationally) the red ones still stand out on top.
const MARK_RADIUS = {high_risk: 3.5, very_high_risk: 4.5};
function drawMarks(ctx, feats, px) {
  const small = MARK_PX * px;
  for (const level of ["high_risk", "very_high_risk"]) {
    if (!state.shown.has(level)) { continue; }
    for (const f of feats) {
      if (shownLevel("commune", f.i) !== level || f.box[2] - f.box[0] > small || f.box[3] - f.box[1] > small) { continue; }
      ctx.beginPath();
      ctx.arc((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2, MARK_RADIUS[level] * px, 0, 2 * Math.PI);
      ctx.fillStyle = colour(level);
      ctx.fill();
      ctx.strokeStyle = OUTLINE.mark;
      ctx.lineWidth = (level === "very_high_risk" ? 1.3 : 0.8) * px;
      ctx.stroke();
    }
  }
}

// The lon/lat box of a version's shapes: a tile outside it is empty and not asked for (the whole country at zoom 5
// is 3 tiles with shapes among the ~24 on a screen, each asking 204 cost a round trip and a kilobyte of headers).
function shapeBounds(sid) {
  return sid === cfg.shapes ? Promise.resolve(cfg.home.all) : shapesIndex(sid).then((ix) => ix.bounds);
}
function outside(coords, b) {
  const nw = map.unproject([coords.x * 256, coords.y * 256], coords.z);
  const se = map.unproject([(coords.x + 1) * 256, (coords.y + 1) * 256], coords.z);
  return se.lng < b[0] || nw.lng > b[2] || nw.lat < b[1] || se.lat > b[3];
}
const EMPTY = {layers: {}};

const ShapeLayer = L.GridLayer.extend({
  createTile(coords, done) {
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 256 * DPR;
    canvas.style.width = canvas.style.height = "256px";
    const d = dataKey(coords);
    const sid = state.sid;
    shapeBounds(sid).then((b) => (outside(coords, b) ? EMPTY : loadData(sid, d.z, d.x, d.y))).then((data) => {
      canvas._zones = {coords, data};
      draw(canvas);
      scheduleLabels();
      done(null, canvas);
    }, (err) => done(err, canvas));
    return canvas;
  },
  redrawAll() {
    for (const key in this._tiles) { draw(this._tiles[key].el); }
  },
});
const shapes = new ShapeLayer({minZoom: cfg.min_zoom, maxZoom: 18, zIndex: 5, keepBuffer: 3, updateWhenZooming: false});

// ---- hit testing, tooltip, selection ---------------------------------------------------------
const hitCtx = document.createElement("canvas").getContext("2d");
function hit(latlng, unit = "commune") {
  const z = Math.round(map.getZoom());
  const p = map.project(latlng, z);
  const d = dataKey({z, x: Math.floor(p.x / 256), y: Math.floor(p.y / 256)});
  const data = decoded.get(`${state.sid}/${d.z}/${d.x}/${d.y}`);
  const layer = data && data.layers[unit];
  if (!layer) { return null; }
  const f = 1 << d.dz;
  const lx = ((p.x / f) / 256 - d.x) * layer.extent;
  const ly = ((p.y / f) / 256 - d.y) * layer.extent;
  for (const feat of layer.feats) {
    const b = feat.box;
    if (lx < b[0] || lx > b[2] || ly < b[1] || ly > b[3]) { continue; }
    if (hitCtx.isPointInPath(feat.path, lx, ly, "evenodd")) { return feat.i; }
  }
  return null;
}
function unitName(unit, i) { return state.index ? state.index.units[unit].name[i] : ""; }
function unitCode(unit, i) { return state.index ? state.index.units[unit].code[i] : ""; }
function firstReason(unit, i) {
  const t = state.table && state.table.units[unit];
  const r = t && t.reasons[String(i)];
  if (!r) { return ""; }
  const rule = cfg.rules[r.split(" ")[0]];
  return rule ? rule.text : r;
}

const tip = $("zones-tip");
let tipFrame = null;
map.on("mousemove", (e) => {
  if (tipFrame) { return; }
  tipFrame = window.requestAnimationFrame(() => {
    tipFrame = null;
    const i = hit(e.latlng);
    if (i === null) { tip.hidden = true; return; }
    const lv = shownLevel("commune", i);
    const why = firstReason("commune", i);
    tip.innerHTML = `<b>${esc(unitName("commune", i))}</b><br><span class="zones-chip" style="background:${colour(lv)}"></span>` +
      `${esc(label(lv))}${why ? `<br><small>${esc(why)}</small>` : ""}`;
    const pt = e.containerPoint;
    const box = map.getContainer().getBoundingClientRect();
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = Math.min(pt.x + box.left + 14, window.innerWidth - w - 4) + "px";
    tip.style.top = Math.min(pt.y + box.top + 14, window.innerHeight - h - 4) + "px";
  });
});
map.on("mouseout zoomstart movestart", () => { tip.hidden = true; });

function select(unit, i, openPanel = true) {
  state.selected = i === null ? null : {unit, i};
  shapes.redrawAll();
  if (i !== null && openPanel) { showPanel(unit, unitCode(unit, i)); }
  document.body.setAttribute("data-zones-selected", i === null ? "" : `${unit}:${unitCode(unit, i)}`);
}
map.on("click", (e) => {
  const i = hit(e.latlng);
  if (i === null) { select("commune", null); $("zones-panel").hidden = true; return; }
  select("commune", i);
});

// ---- names: placed without overlap, biggest units first ------------------------------------
const labelPane = map.createPane("zones-labels");
labelPane.style.zIndex = 450;
labelPane.style.pointerEvents = "none";
const measure = document.createElement("canvas").getContext("2d");
const FONTS = {p: "700 15px system-ui, sans-serif", d: "700 12.5px system-ui, sans-serif", c: "600 11.5px system-ui, sans-serif"};
const widths = new Map();
function textWidth(u, text) {
  const key = u + text;
  if (!widths.has(key)) { measure.font = FONTS[u]; widths.set(key, measure.measureText(text).width); }
  return widths.get(key);
}
function visibleDataTiles() {
  const z = Math.round(map.getZoom());
  const b = map.getPixelBounds();
  const out = new Map();
  for (let x = Math.floor(b.min.x / 256); x <= Math.floor(b.max.x / 256); x++) {
    for (let y = Math.floor(b.min.y / 256); y <= Math.floor(b.max.y / 256); y++) {
      const d = dataKey({z, x, y});
      const key = `${state.sid}/${d.z}/${d.x}/${d.y}`;
      if (decoded.has(key)) { out.set(key, {data: decoded.get(key), dz: d.dz}); }
    }
  }
  return out;
}
let labelTimer = null;
function scheduleLabels() {
  window.clearTimeout(labelTimer);
  labelTimer = window.setTimeout(layoutLabels, 40);
}
// Red and orange on screen, to keep names off them: per visible data tile, its hot communes; the small ones
// (drawn as marks) as squares around their middle, in global pixels.
function hotOnScreen(z) {
  const tiles = new Map();
  const marks = [];
  let dataZ = null;
  for (const {data} of visibleDataTiles().values()) {
    const layer = data.layers.commune;
    if (!layer) { continue; }
    dataZ = data.z;
    const scale = 256 * Math.pow(2, z - data.z);
    const feats = layer.feats.filter((f) => { const id = shownLevel("commune", f.i); return HOT.has(id) && state.shown.has(id); });
    if (!feats.length) { continue; }
    tiles.set(`${data.x}/${data.y}`, {extent: layer.extent, feats});
    for (const f of feats) {
      const k = scale / layer.extent;
      if ((f.box[2] - f.box[0]) * k <= MARK_PX && (f.box[3] - f.box[1]) * k <= MARK_PX) {
        const cx = (data.x + (f.box[0] + f.box[2]) / 2 / layer.extent) * scale;
        const cy = (data.y + (f.box[1] + f.box[3]) / 2 / layer.extent) * scale;
        marks.push([cx - 7, cy - 7, cx + 7, cy + 7]);
      }
    }
  }
  return {tiles, marks, scale: dataZ === null ? 1 : 256 * Math.pow(2, z - dataZ)};
}
// Whether a box (global pixels) would hide red or orange: a mark it touches, or a hot fill under it (looked for
// every COVER_STEP pixels, only where a hot commune's box meets the label's).
const COVER_STEP = 2;
function coversHot(hot, x0, y0, x1, y1) {
  if (hot.marks.some((m) => x0 < m[2] && x1 > m[0] && y0 < m[3] && y1 > m[1])) { return true; }
  if (!hot.tiles.size) { return false; }
  const s = hot.scale;
  for (let tx = Math.floor(x0 / s); tx <= Math.floor(x1 / s); tx++) {
    for (let ty = Math.floor(y0 / s); ty <= Math.floor(y1 / s); ty++) {
      const t = hot.tiles.get(`${tx}/${ty}`);
      if (!t) { continue; }
      const k = t.extent / s;
      const lx0 = (x0 - tx * s) * k, ly0 = (y0 - ty * s) * k, lx1 = (x1 - tx * s) * k, ly1 = (y1 - ty * s) * k;
      const near = t.feats.filter((f) => f.box[0] <= lx1 && f.box[2] >= lx0 && f.box[1] <= ly1 && f.box[3] >= ly0);
      if (!near.length) { continue; }
      for (let gy = y0; gy <= y1 + 0.01; gy += Math.min(COVER_STEP, Math.max(y1 - gy, 0.5))) {
        for (let gx = x0; gx <= x1 + 0.01; gx += Math.min(COVER_STEP, Math.max(x1 - gx, 0.5))) {
          const lx = (gx - tx * s) * k, ly = (gy - ty * s) * k;
          if (lx < 0 || ly < 0 || lx > t.extent || ly > t.extent) { continue; }
          for (const f of near) {
            if (lx >= f.box[0] && lx <= f.box[2] && ly >= f.box[1] && ly <= f.box[3] &&
                hitCtx.isPointInPath(f.path, lx, ly, "evenodd")) { return true; }
          }
        }
      }
    }
  }
  return false;
}
function layoutLabels() {
  if (!state.names || !state.index || !state.table) { labelPane.innerHTML = ""; return; }
  const z = Math.round(map.getZoom());
  const view = map.getPixelBounds();
  const origin = map.getPixelOrigin();
  const seen = new Set();
  const cands = [];
  for (const {data} of visibleDataTiles().values()) {
    const layer = data.layers.label;
    if (!layer) { continue; }
    const scale = 256 * Math.pow(2, z - data.z);
    for (const f of layer.feats) {
      const key = f.u + f.i;
      if (seen.has(key)) { continue; }
      if (f.u === "p" && z > 9) { continue; }
      if (f.u === "d" && (z < 7 || z > 11)) { continue; }
      if (f.u === "c" && z < 8) { continue; }
      const gx = (data.x + f.x / layer.extent) * scale;
      const gy = (data.y + f.y / layer.extent) * scale;
      if (gx < view.min.x || gx > view.max.x || gy < view.min.y || gy > view.max.y) { continue; }
      const w = textWidth(f.u, f.name);
      const span = (f.w * 256 * Math.pow(2, z)) / 360;
      if (f.u === "c" && span < w + 6) { continue; }      // the name does not fit its commune
      seen.add(key);
      const unit = {p: "province", d: "district", c: "commune"}[f.u];
      const lv = shownLevel(unit, f.i);
      const prio = (f.u === "p" ? 3e6 : f.u === "d" ? 2e6 : 1e6) + (RANK[lv] || 0) * 1e5 + Math.min(span, 99999);
      cands.push({f, gx, gy, w, h: f.u === "p" ? 18 : 15, prio, ownHot: f.u === "c" && HOT.has(lv)});
    }
  }
  cands.sort((a, b) => b.prio - a.prio);
  const hot = hotOnScreen(z);
  const placed = [];
  const parts = [];
  for (const c of cands) {
    // where it stands, else just above, below, right or left of it: never over red or orange
    const dx = c.w / 2 + 10, dy = c.h + 3;
    let at = null;
    for (const [ox, oy] of [[0, 0], [0, -dy], [0, dy], [dx, 0], [-dx, 0], [0, -2 * dy], [0, 2 * dy]]) {
      const x0 = c.gx + ox - c.w / 2 - 2, y0 = c.gy + oy - c.h / 2 - 1, x1 = c.gx + ox + c.w / 2 + 2, y1 = c.gy + oy + c.h / 2 + 1;
      if (placed.some((p) => x0 < p[2] && x1 > p[0] && y0 < p[3] && y1 > p[1])) { continue; }
      if (coversHot(hot, x0, y0, x1, y1)) { continue; }
      at = [x0, y0, x1, y1, false];
      break;
    }
    if (!at && c.ownHot) {
      // a red or orange commune's own name stays on it, drawn without the white halo: its colour shows through
      const x0 = c.gx - c.w / 2 - 2, y0 = c.gy - c.h / 2 - 1, x1 = c.gx + c.w / 2 + 2, y1 = c.gy + c.h / 2 + 1;
      if (!placed.some((p) => x0 < p[2] && x1 > p[0] && y0 < p[3] && y1 > p[1])) { at = [x0, y0, x1, y1, true]; }
    }
    if (!at) { continue; }
    placed.push(at);
    const lx = Math.round(at[0] + 2 - origin.x), ly = Math.round(at[1] + 1 - origin.y);
    parts.push(`<div class="zones-label zones-label-${c.f.u}${at[4] ? " zones-label-on-hot" : ""}" ` +
      `style="transform:translate(${lx}px,${ly}px);width:${Math.ceil(c.w) + 1}px">${esc(c.f.name)}</div>`);
  }
  labelPane.innerHTML = parts.join("");
  labelPane.style.visibility = "visible";
}
map.on("zoomstart", () => { labelPane.style.visibility = "hidden"; });
map.on("moveend zoomend viewreset", scheduleLabels);

// ---- lockdowns: dashed outlines (never a fill over a commune's colour) ----------------------
const lockdownLayer = L.geoJSON(null, {interactive: false,
  style: () => ({color: OUTLINE.lockdown, weight: 2.2, dashArray: "6 4", fill: false, opacity: 1})});
function showLockdowns(runId) {
  return lockdowns(runId).then((gj) => {
    if (runId !== state.run) { return; }
    lockdownLayer.clearLayers();
    if (state.lockdowns) { lockdownLayer.addData(gj); }
  }).catch(() => lockdownLayer.clearLayers());
}

// ---- declared levels: data beside the runs, read for the day shown (a level declared in the console shows at
// once, without a new run); the dashed rail marks communes whose declared level differs from the run's
function codeIndex(unit) {
  const idx = state.index && state.index.units[unit];
  if (!idx) { return new Map(); }
  if (!idx._byCode) { idx._byCode = new Map(idx.code.map((c, i) => [String(c), i])); }
  return idx._byCode;
}
function declarations(date) {
  if (PUBLIC) { state.view = "proposal"; return Promise.resolve(); }     // the table is already the levels in force
  const runId = state.run;
  return getJSON(`/api/declarations?run=${runId}`).then((body) => {
    if (date !== state.date) { return; }
    const communes = codeIndex("commune");
    state.declared = Object.fromEntries(body.units.map((d) => [d.code, d]));
    state.inForce = {};
    for (const unit of ["commune", "district", "province"]) {
      const codes = codeIndex(unit);
      state.inForce[unit] = new Map(body.units.filter((d) => codes.has(String(d.code))).map((d) => [codes.get(String(d.code)), d.level]));
    }
    state.differs = new Set(body.units.filter((d) => communes.has(String(d.code)))
      .map((d) => [communes.get(String(d.code)), d.level]).filter(([i, lv]) => levelOf("commune", i) !== lv).map(([i]) => i));
    $("zones-view").hidden = !body.units.length;      // a proposal to compare only once something is in force
    shapes.redrawAll();
    legend();
    scheduleLabels();
  }).catch(() => {
    const t = state.table && state.table.units.commune;          // the run's own, when the store cannot be read
    state.differs = new Set(t ? t.differs : []);
  });
}

// ---- legend, counts, filter ------------------------------------------------------------------
function counts() {
  const out = Object.fromEntries(cfg.levels.map((l) => [l.id, 0]));
  const t = state.table && state.table.units.commune;
  if (!t) { return out; }
  for (let i = 0; i < t.level.length; i++) {
    const id = shownLevel("commune", i);
    if (id in out) { out[id] += 1; }
  }
  return out;
}
function legend() {
  const n = counts();
  $("zones-legend-summary").innerHTML = cfg.levels.filter((l) => l.id !== "unknown" || n[l.id]).map((l) =>
    `<span class="zones-chip" style="background:${colour(l.id)}" title="${esc(l.label)}"></span>${num(n[l.id])}`).join(" ");
  $("zones-legend-items").innerHTML = cfg.levels.map((l) =>
    `<label><input type="checkbox" data-level="${l.id}"${state.shown.has(l.id) ? " checked" : ""}>` +
    `<span class="zones-chip" style="background:${colour(l.id)}"></span>${esc(l.label)} ` +
    `(<span class="zones-count" data-level="${l.id}">${num(n[l.id])}</span>)</label>`).join("");
  for (const box of $("zones-legend-items").querySelectorAll("input")) {
    box.addEventListener("change", () => {
      if (box.checked) { state.shown.add(box.dataset.level); } else { state.shown.delete(box.dataset.level); }
      shapes.redrawAll();
    });
  }
}

// ---- red / orange list ---------------------------------------------------------------------
function reasonText(r) {
  const ids = r.reasons || [];
  const rule = ids.length ? cfg.rules[ids[0]] : null;
  return rule ? rule.text : "";
}
const hotData = new Map();     // run id -> Promise of the first page of its red/orange list
function hotItem(u, k) {
  const badge = u.newly_red ? `<span class="zones-badge zones-badge-red">${esc(T.newly_red)}</span>`
    : u.change === "up" ? `<span class="zones-badge">${esc(T.up)}</span>` : "";
  // by the levels in force: the decision, and the computed level where it differs
  const decided = u.decision ? `<br><small>${esc(T.decision)} ${esc(u.decision)}` +
    (u.level_computed !== u.level ? ` · ${esc(T.proposed)}: ${esc(label(u.level_computed))}` : "") + "</small>" : "";
  const facts = [u.district_name || u.province_name || "",
                 u.community_cases === null || u.community_cases === undefined ? "" : fmt(T.cases_short, {n: num(u.community_cases)}),
                 u.unchanged_days === null || u.unchanged_days === undefined ? "" : fmt(T.held_days, {n: u.unchanged_days})].filter(Boolean);
  return `<li data-k="${k}" data-code="${esc(u.code)}" data-level="${u.level}" tabindex="0">` +
    `<span class="zones-chip" style="background:${colour(u.level)}"></span><b>${esc(u.name)}</b> ${badge}` +
    `<br><small>${esc(facts.join(" · "))}</small>${decided}<br><small class="zones-why">${esc(reasonText(u))}</small></li>`;
}
function hotRows(runId) {
  // the list holds the pages read so far (the worst first); the next page on demand (never in the offline file,
  // which carries the first rows only)
  const left = state.hotTotal - state.hot.length;
  const more = left <= 0 ? "" : cfg.offline ? `<li class="zones-empty">${esc(fmt(T.hot_more, {n: num(left)}))}</li>`
    : `<li class="zones-empty"><button type="button" id="zones-hot-next">${esc(fmt(T.hot_next, {n: num(Math.min(left, state.hotPage))}))}</button> ` +
      `<small>${esc(fmt(T.hot_left, {n: num(left)}))}</small></li>`;
  const list = $("zones-hot-list");
  list.innerHTML = state.hot.length ? state.hot.map(hotItem).join("") + more : `<li class="zones-empty">${esc(T.hot_none)}</li>`;
  for (const li of list.querySelectorAll("li[data-k]")) {
    const go = () => {
      const u = state.hot[Number(li.dataset.k)];
      zoomTo(u.bbox, 13, true);
      select("commune", u.i);
    };
    li.addEventListener("click", go);
    li.addEventListener("keydown", (e) => { if (e.key === "Enter") { go(); } });
  }
  const next = $("zones-hot-next");
  if (next) {
    next.addEventListener("click", () => {
      next.disabled = true;
      const k = state.hot.length;
      getJSON(`/api/hotspots?run=${runId}&view=${state.view}&offset=${k}&limit=${state.hotPage}`).then((body) => {
        if (runId !== state.run || state.hot.length !== k) { return; }
        state.hot = state.hot.concat(body.units);
        hotRows(runId);
        const first = list.querySelector(`li[data-k="${k}"]`);
        if (first) { first.focus(); }
      });
    });
  }
}
function hotList(runId) {
  if (PUBLIC) { return Promise.resolve(); }
  const key = `${runId}|${state.view}`;
  if (!hotData.has(key)) { hotData.set(key, getJSON(`/api/hotspots?run=${runId}&view=${state.view}`)); }
  return hotData.get(key).then((body) => {
    if (runId !== state.run) { return; }
    state.hot = body.units.slice();
    state.hotTotal = body.total === undefined ? body.units.length : body.total;
    state.hotPage = body.limit || body.units.length || 1;
    $("zones-hot-title").textContent = fmt(T.hot_title, {date: day(body.date || state.date)});
    $("zones-hot-count").textContent = `(${num(state.hotTotal)})`;
    hotRows(runId);
  });
}

// ---- the panel of a unit -------------------------------------------------------------------
function lockdownLine(l) {
  const end = l.lifted_date ? `${T.lifted} ${day(l.lifted_date)}` : l.end_date ? `${T.until} ${day(l.end_date)}` : T.until_notice;
  return `<b>${esc(l.name || l.decision_no)}</b><br>${esc(T.decision)} ${esc(l.decision_no)}` +
    (l.issuer ? ` · ${esc(T.issuer)}: ${esc(l.issuer)}` : "") + `<br>${esc(T.from)} ${day(l.start_date)} ${esc(end)}`;
}
function parentLine(p) {
  if (!p) { return "—"; }
  const why = cfg.lang === "en" ? p.explanation_en : p.explanation;
  return `<span class="zones-chip" style="background:${colour(p.level)}"></span><b>${esc(p.name)}</b>: ${esc(label(p.level))}` +
    (why ? `<br><small>${esc(why)}</small>` : "");
}
function outlookText(u) {
  // "nếu không có ca mới: cam từ 05/08, xanh từ 12/08 (chờ Xã X)": what the engine publishes on those days
  const parts = [];
  if (u.outlook_down_date) { parts.push(fmt(T.outlook_down, {level: label(u.outlook_down_level), date: day(u.outlook_down_date)})); }
  if (u.outlook_safe_date && u.outlook_safe_date !== u.outlook_down_date) {
    parts.push(fmt(T.outlook_down, {level: label("safe"), date: day(u.outlook_safe_date)}));
  }
  if (!parts.length) { parts.push(fmt(T.outlook_none, {n: cfg.outlook_days || ""})); }
  return `<span class="zones-outlook">${esc(parts.join(", "))}</span>` +
    (u.adjacent_to && u.adjacent_to.length ? `<br><small>${esc(fmt(T.outlook_waits, {names: [].concat(u.adjacent_to).join(", ")}))}</small>` : "");
}
function panelHtml(u) {
  const why = cfg.lang === "en" ? u.explanation_en : u.explanation;
  // the level in force (the committee's decision) first where there is one; the computed one beside it
  const inForce = u.declared_level;
  const shown = state.view === "in_force" && inForce ? inForce : u.level;
  const rows = [];
  if (inForce) {
    rows.push([T.declared, `${esc(label(inForce))} (${esc(T.decision)} ${esc(u.declared_decision || "")}` +
      `${u.declared_from ? `, ${esc(T.from)} ${day(u.declared_from)}` : ""})`]);
    rows.push([T.proposed, esc(label(u.level))]);
  }
  rows.push([T.why, esc(why || "—")]);
  if (u.unit === "commune") {
    rows.push([fmt(T.cases, {n: cfg.window_days}), num(u.community_cases)]);
  }
  if (u.level !== "safe" && u.level !== "unknown" && u.outlook_down_date !== undefined) { rows.push([T.outlook, outlookText(u)]); }
  if (u.measures_list && u.measures_list.length) {
    // this level's own measures first; those it keeps from the levels below, folded (the panel stays short)
    const text = (m) => (cfg.lang === "en" ? m.en : m.vi);
    const own = u.measures_list.filter((m) => m.level === u.level).map(text);
    const kept = u.measures_list.filter((m) => m.level !== u.level).map(text);
    const list = (xs) => `<ul class="zones-measures">${xs.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>`;
    rows.push([T.measures, (own.length ? list(own) : "") +
      (kept.length ? `<details class="zones-more"><summary>${esc(fmt(T.measures_below, {n: kept.length}))}</summary>${list(kept)}</details>` : "") +
      (u.measures_list.some((m) => m.partial) ? `<small>${esc(T.measures_partial)}</small>` : "")]);
  }
  rows.push([T.population, num(u.population)]);
  if (u.district !== undefined) { rows.push([T.district, parentLine(u.district)]); }
  if (u.province !== undefined) { rows.push([T.province, parentLine(u.province)]); }
  if (u.lockdowns) { rows.push([T.lockdowns, u.lockdowns.length ? u.lockdowns.map(lockdownLine).join("<hr>") : esc(T.none)]); }
  const kind = T[u.unit] || "";
  return `<h2><span class="zones-chip" style="background:${colour(shown)}"></span>${esc(u.name)}</h2>` +
    `<p class="zones-kind">${esc(kind)}</p><p class="zones-level">${esc(label(shown))}` +
    (u.level_differs ? ` <b class="zones-differs-flag">≠ ${esc(label(u.declared_level))}</b>` : "") +
    (u.outbreak_over ? `<br><small>${esc(T.outbreak_over)}</small>` : "") + "</p><table>" +
    rows.map((r) => `<tr><th>${esc(r[0])}</th><td>${r[1]}</td></tr>`).join("") + '</table><div id="zones-chart"></div>' +
    (cfg.offline ? "" : `<p class="zones-console"><a href="/console?code=${encodeURIComponent(u.code)}&unit=${encodeURIComponent(u.unit)}` +
    `&lang=${cfg.lang}#declare">${esc(T.console_link)}</a></p>`);
}
function chart(h) {
  const w = 300, hgt = 74, n = h.dates.length, bw = w / n;
  const peak = Math.max(1, ...h.cases);
  const bars = h.cases.map((c, i) => {
    const bh = Math.round((c / peak) * (hgt - 16));
    return `<rect x="${(i * bw).toFixed(1)}" y="${hgt - 12 - bh}" width="${Math.max(bw - 1, 1).toFixed(1)}" height="${bh}" fill="#444">` +
      `<title>${day(h.dates[i])}: ${c}</title></rect>`;
  }).join("");
  const strip = h.levels.map((lv, i) => `<rect x="${(i * bw).toFixed(1)}" y="${hgt - 10}" width="${Math.ceil(bw)}" height="10" ` +
    `fill="${lv ? colour(lv) : "#ffffff"}"><title>${day(h.dates[i])}: ${esc(label(lv))}</title></rect>`).join("");
  return `<div class="zones-chart-title">${esc(T.chart)}</div><div class="zones-chart-peak">${esc(fmt(T.chart_peak, {n: num(peak)}))}</div>` +
    `<svg class="zones-chart" viewBox="0 0 ${w} ${hgt}" width="100%" preserveAspectRatio="none">${bars}${strip}</svg>` +
    `<div class="zones-chart-axis"><span>${day(h.dates[0])}</span><span>${day(h.dates[n - 1])}</span></div>`;
}
let panelSeq = 0;
// the citizens' panel: the level in force, since when and by which decision, and the measures it requires
function publicPanelHtml(u) {
  const measures = (u.measures_list || []).map((m) => (cfg.lang === "en" ? m.en : m.vi));
  const said = u.level ? fmt(T.since_decision, {date: day(u.since), number: u.decision || ""}) : T.public_none;
  const where = [u.unit === "commune" ? u.district_name : null, u.unit !== "province" ? u.province_name : null].filter(Boolean);
  return `<h2><span class="zones-chip" style="background:${colour(u.level || "unknown")}"></span>${esc(u.name)}</h2>` +
    `<p class="zones-kind">${esc(T[u.unit] || "")}${where.length ? " · " + esc(where.join(", ")) : ""}</p>` +
    `<p class="zones-level">${esc(label(u.level || "unknown"))}</p><p>${esc(said)}</p>` +
    (measures.length ? `<p><b>${esc(T.measures)}</b></p><ul class="zones-measures">${measures.map((m) => `<li>${esc(m)}</li>`).join("")}</ul>` : "");
}
function showPanel(unit, code) {
  const seq = ++panelSeq;
  const runId = state.run;
  if (PUBLIC) {
    getJSON(`/tra-cuu/units/${encodeURIComponent(code)}?unit=${unit}&lang=${cfg.lang}`).then((u) => {
      if (seq !== panelSeq) { return; }
      $("zones-panel-body").innerHTML = publicPanelHtml(u);
      $("zones-panel").hidden = false;
      document.body.classList.add("zones-panel-open");
      fitControls();
    }).catch(() => { $("zones-panel-body").innerHTML = `<p>${esc(T.no_panel_data)}</p>`; $("zones-panel").hidden = false; });
    return;
  }
  getJSON(`/api/zones/${encodeURIComponent(code)}?unit=${unit}&run=${runId}`).then((u) => {
    if (seq !== panelSeq) { return null; }
    $("zones-panel-body").innerHTML = panelHtml(u);
    $("zones-panel").hidden = false;
    document.body.classList.add("zones-panel-open");
    fitControls();
    return getJSON(`/api/zones/${encodeURIComponent(code)}/history?unit=${unit}&days=60&date=${state.date}`)
      .catch(() => null);       // no history (a file opened offline): the panel stays without its chart
  }).then((h) => { if (h && seq === panelSeq) { $("zones-chart").innerHTML = chart(h); } })
    .catch(() => {
      if (seq !== panelSeq) { return; }
      $("zones-panel-body").innerHTML = `<p>${esc(T.no_panel_data)}</p>`;
      $("zones-panel").hidden = false;
    });
}
function closePanel() {
  $("zones-panel").hidden = true;
  document.body.classList.remove("zones-panel-open");
  select("commune", null, false);
  fitControls();
}
$("zones-close").addEventListener("click", closePanel);
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") { return; }
  if (!$("zones-results").hidden) { $("zones-results").hidden = true; return; }
  if (!$("zones-panel").hidden) { closePanel(); }
});
// the skip link: past the red/orange list, to what follows it
$("zones-skip").addEventListener("click", (e) => { e.preventDefault(); $("zones-trend-toggle").focus(); });

// ---- views: the home area, provinces, fitting around the panels -----------------------------
// On a phone the panel is a sheet over the lower part of the screen: a unit picked is fitted into the part
// it leaves (the sheet's height once open: PHONE_SHEET of the screen, as committee.css sets it).
const PHONE_SHEET = 0.58;
function sheetHeight(opening) {
  const panel = $("zones-panel");
  if (!panel.hidden) { return panel.getBoundingClientRect().height; }
  if (opening) { return Math.round(window.innerHeight * PHONE_SHEET); }
  const side = $("zones-side");
  return getComputedStyle(side).display === "none" ? 0 : side.getBoundingClientRect().height;
}
// the zoom buttons sit above whatever sheet covers the bottom of a phone's screen
function fitControls() {
  if (!PHONE.matches) { return; }
  document.documentElement.style.setProperty("--sheet", `${Math.round(sheetHeight(false))}px`);
}
function padding(opening = false) {
  const bar = $("zones-bar").getBoundingClientRect();
  if (PHONE.matches) { return {paddingTopLeft: [8, bar.bottom + 8], paddingBottomRight: [8, sheetHeight(opening) + 8]}; }
  const side = $("zones-side").getBoundingClientRect();
  return {paddingTopLeft: [side.right + 8, bar.bottom + 8], paddingBottomRight: [24, 24]};
}
function zoomTo(b, maxZoom = 13, opening = false) {
  map.fitBounds([[b[1], b[0]], [b[3], b[2]]], {...padding(opening), maxZoom});
}
function provinceSelector() {
  const sel = $("zones-province");
  const items = cfg.provinces.slice().sort((a, b) => a.name.localeCompare(b.name, "vi"));
  sel.innerHTML = `<option value="">${esc(T.all_provinces)}</option>` +
    items.map((p) => `<option value="${esc(p.code)}">${esc(p.name)}</option>`).join("");
  sel.value = cfg.home.province || "";
  if (cfg.provinces.length < 2) { sel.hidden = true; }
  sel.addEventListener("change", () => {
    const p = cfg.provinces.filter((x) => x.code === sel.value)[0];
    zoomTo(p ? p.bbox : cfg.home.all, 12);
    const params = new URLSearchParams(window.location.search);
    if (sel.value) { params.set("province", sel.value); } else { params.delete("province"); }
    window.history.replaceState(null, "", "?" + params.toString());
  });
}

// ---- search --------------------------------------------------------------------------------
let pending = null;
let found = [];
function placeResults() {
  const bar = $("zones-bar").getBoundingClientRect();
  const box = $("zones-search").getBoundingClientRect();
  const res = $("zones-results");
  res.style.top = `${bar.bottom + 4}px`;
  if (PHONE.matches) { res.style.left = "6px"; res.style.right = "6px"; res.style.width = "auto"; }
  else { res.style.left = `${box.left}px`; res.style.right = "auto"; res.style.width = `${Math.max(box.width, 320)}px`; }
}
function pickResult(r) {
  $("zones-results").hidden = true;
  zoomTo(r.bbox, r.unit === "commune" ? 13 : 11, true);
  select(r.unit, r.i);
}
$("zones-search").addEventListener("input", function onInput() {
  const q = this.value;
  window.clearTimeout(pending);
  pending = window.setTimeout(() => {
    if (q.trim().length < 2) { $("zones-results").hidden = true; return; }
    getJSON(PUBLIC ? `/tra-cuu/search?q=${encodeURIComponent(q)}` : `/api/search?q=${encodeURIComponent(q)}&run=${state.run}`).then((body) => {
      found = body.results;
      placeResults();
      $("zones-results").innerHTML = found.length ? found.map((r, k) =>
        `<div class="zones-hit" role="option" data-k="${k}" tabindex="0"><span class="zones-chip" style="background:${colour(r.level)}"></span>` +
        `<b>${esc(r.name)}</b> <small>${esc(T[r.unit])}${r.unit !== "province" ? " · " : ""}` +
        `${esc([r.unit === "commune" ? r.district_name : null, r.province_name].filter(Boolean).join(", "))}` +
        ` · ${esc(label(r.level))}</small></div>`).join("") : `<div class="zones-empty">${esc(T.no_result)}</div>`;
      $("zones-results").hidden = false;
      for (const el of $("zones-results").querySelectorAll(".zones-hit")) {
        el.addEventListener("click", () => pickResult(found[Number(el.dataset.k)]));
        el.addEventListener("keydown", (e) => { if (e.key === "Enter") { pickResult(found[Number(el.dataset.k)]); } });
      }
    });
  }, 200);
});
$("zones-search").addEventListener("keydown", (e) => {
  if (e.key === "Enter" && found.length) { pickResult(found[0]); }
  if (e.key === "Escape") { $("zones-results").hidden = true; }
});

// ---- dates and the play-through --------------------------------------------------------------
const dates = cfg.dates.map((d) => d[0]);
const runOf = Object.fromEntries(cfg.dates);
function links() {
  const params = new URLSearchParams(window.location.search);
  params.set("date", state.date);
  window.history.replaceState(null, "", "?" + params.toString());
  $("zones-report").href = `/report?date=${state.date}&lang=${cfg.lang}`;
  params.set("lang", cfg.lang === "vi" ? "en" : "vi");
  $("zones-lang").href = "?" + params.toString();
  $("zones-rules").href = `/rulesets/${cfg.ruleset.id}?lang=${cfg.lang}`;
  const k = dates.indexOf(state.date);
  $("zones-prev").disabled = k <= 0;
  $("zones-next").disabled = k >= dates.length - 1;
}
function useTable(t) {
  state.table = t;
  state.differs = new Set((t.units.commune && t.units.commune.differs) || []);   // until the day's declarations come
  shapes.redrawAll();
  legend();
  scheduleLabels();
  document.body.setAttribute("data-zones-date", state.date);
  document.body.setAttribute("data-zones-run", state.run);
}
// The day's table first (a few KB), then everything is re-drawn in one go: the previous day stays
// on screen until the new one is complete.
function choose(date) {
  const runId = runOf[date];
  if (!runId) { return Promise.resolve(); }
  return table(runId).then((t) => {
    if (t.shapes !== state.sid) { return switchShapes(t.shapes).then(() => t); }
    return t;
  }).then((t) => {
    state.run = runId;
    state.date = date;
    $("zones-date").value = date;
    useTable(t);
    links();
    showLockdowns(runId);
    hotList(runId);
    declarations(date);
    if (!$("zones-trend-body").hidden) { trendChart(); }
    if (state.selected && !$("zones-panel").hidden) { showPanel(state.selected.unit, unitCode(state.selected.unit, state.selected.i)); }
  });
}
function switchShapes(sid) {
  return shapesIndex(sid).then((index) => {
    state.sid = sid;
    state.index = index;
    state.selected = null;
    shapes.redraw();
  });
}
function stopPlay() {
  window.clearInterval(state.timer);
  state.timer = null;
  $("zones-play").textContent = T.play;
}
function play() {
  if (state.timer) { stopPlay(); return; }
  const newest = dates.length - 1;
  let k = dates.indexOf(state.date);
  const start = k >= newest ? Math.max(0, newest - 29) : k;
  const sequence = dates.slice(start, Math.min(start + 30, dates.length));
  $("zones-busy").hidden = false;
  // every frame's table (and lockdowns) before the first frame: then one frame per second, each in its own colours
  Promise.all(sequence.map((d) => Promise.all([table(runOf[d]), lockdowns(runOf[d]).catch(() => null),
                                               hotList(runOf[d]).catch(() => null)]))).then(() => {
    $("zones-busy").hidden = true;
    $("zones-play").textContent = T.stop;
    k = 0;
    choose(sequence[0]);
    state.timer = window.setInterval(() => {
      k += 1;
      if (k >= sequence.length) { stopPlay(); return; }
      choose(sequence[k]);
    }, 1000);
  });
}
$("zones-date").innerHTML = dates.slice().reverse().map((d) => `<option value="${d}">${day(d)}</option>`).join("");
$("zones-date").addEventListener("change", function onDate() { choose(this.value); });
$("zones-prev").addEventListener("click", () => { const k = dates.indexOf(state.date); if (k > 0) { choose(dates[k - 1]); } });
$("zones-next").addEventListener("click", () => { const k = dates.indexOf(state.date); if (k < dates.length - 1) { choose(dates[k + 1]); } });
$("zones-play").addEventListener("click", play);
$("zones-palette").addEventListener("change", function onPalette() {
  state.palette = this.value;
  shapes.redrawAll();
  legend();
  hotList(state.run);
});
$("zones-show-names").addEventListener("change", function onNames() { state.names = this.checked; layoutLabels(); });
$("zones-show-lockdowns").addEventListener("change", function onLk() { state.lockdowns = this.checked; showLockdowns(state.run); });
$("zones-show-differs").addEventListener("change", function onDiffers() { state.differsShown = this.checked; shapes.redrawAll(); });
// the computed proposal instead of the levels in force (a decision made, the map shows what is in force)
$("zones-proposal").addEventListener("change", function onView() {
  state.view = this.checked ? "proposal" : "in_force";
  document.body.setAttribute("data-zones-view", state.view);
  shapes.redrawAll();
  legend();
  scheduleLabels();
  hotList(state.run);
  if (state.selected && !$("zones-panel").hidden) { showPanel(state.selected.unit, unitCode(state.selected.unit, state.selected.i)); }
});
// the trend (the published days up to the one shown): a chart drawn by the server, loaded when opened
// the area in view: a district or province picked, else the province chosen above the map, else everything
function areaCode() {
  const sel = state.selected;
  if (sel && sel.unit !== "commune") { return unitCode(sel.unit, sel.i); }
  return $("zones-province").value || "";
}
function trendChart() {
  const code = areaCode();
  $("zones-trend-img").src = `/api/trend?to=${state.date}&format=svg&width=320&lang=${cfg.lang}` +
    (code ? `&code=${encodeURIComponent(code)}` : "");
}
for (const [button, body] of [["zones-legend-toggle", "zones-legend-body"], ["zones-hot-toggle", "zones-hot-list"],
                              ["zones-trend-toggle", "zones-trend-body"]]) {
  $(button).addEventListener("click", () => {
    const open = $(button).getAttribute("aria-expanded") !== "true";
    $(button).setAttribute("aria-expanded", String(open));
    $(body).hidden = !open;
    if (open && body === "zones-trend-body") { trendChart(); }
    fitControls();
  });
}
if (PHONE.matches) {      // a phone starts with the map: the legend and the list open on a tap
  for (const [button, body] of [["zones-legend-toggle", "zones-legend-body"], ["zones-hot-toggle", "zones-hot-list"]]) {
    $(button).setAttribute("aria-expanded", "false");
    $(body).hidden = true;
  }
}

// the side list and the panel start below the bar, however many lines the bar takes
function layout() {
  document.documentElement.style.setProperty("--below-bar", `${Math.round($("zones-bar").getBoundingClientRect().bottom + 8)}px`);
  fitControls();
}
layout();
window.addEventListener("resize", layout);

// ---- controls in the page's language, then the first view ------------------------------------
L.control.zoom({position: "bottomright", zoomInTitle: T.zoom_in, zoomOutTitle: T.zoom_out}).addTo(map);
L.control.scale({position: "bottomright", imperial: false}).addTo(map);
if (cfg.attribution) {       // an intranet basemap names its source; ours is in the legend
  L.control.attribution({position: "bottomright", prefix: false}).addTo(map).addAttribution(esc(cfg.attribution));
}
$("zones-about").textContent = `${T.ruleset}: ${cfg.ruleset.title}${cfg.ruleset.why ? ` (${cfg.ruleset.why})` : ""} · ${T.boundaries}: ${cfg.boundary_version}`;
provinceSelector();
if (PUBLIC) {           // today's levels in force: no other day, no proposal, no list of the committee's
  for (const id of ["zones-play", "zones-prev", "zones-next", "zones-date", "zones-trend", "zones-hot", "zones-report", "zones-rules",
                    "zones-show-differs", "zones-show-lockdowns"]) { $(id).hidden = true; }
  $("zones-show-differs").closest("label").hidden = true;
  $("zones-show-lockdowns").closest("label").hidden = true;
  $("zones-legend-toggle").setAttribute("aria-expanded", "true");
  $("zones-legend-body").hidden = false;
  const sep = $("zones-report").nextSibling;      // the " · " before the language link
  if (sep && sep.nodeType === Node.TEXT_NODE) { sep.textContent = ""; }
}
if (cfg.offline) {      // a file of one day: no other day to play, no page of the server to link to
  for (const id of ["zones-play", "zones-prev", "zones-next", "zones-trend", "zones-rules"]) { $(id).hidden = true; }
  $("zones-bar").querySelector(".zones-links").hidden = true;
}
zoomTo(cfg.home.bbox, 12);
lockdownLayer.addTo(map);

window.zonesApi = {map, state, levelOf, hit, redraw: () => shapes.redrawAll(), select, choose, labels: layoutLabels};
Promise.all([table(state.run), shapesIndex(state.sid)]).then(([t, index]) => {
  state.index = index;
  shapes.addTo(map);
  shapes.on("load", () => { document.body.setAttribute("data-zones-drawn", "1"); scheduleLabels(); });
  shapes.on("loading", () => document.body.removeAttribute("data-zones-drawn"));
  $("zones-date").value = state.date;
  useTable(t);
  links();
  showLockdowns(state.run);
  document.body.setAttribute("data-zones-view", state.view);
  return declarations(state.date).then(() => hotList(state.run));
}).then(() => { fitControls(); document.body.setAttribute("data-zones-ready", "1"); });
