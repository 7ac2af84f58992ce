// The committee's map opened from a file (geo/serve/offline.py): what the page would ask the server for is
// answered from the data inlined in the file. `fetch` is replaced before the page's module runs; every answer is
// a real Response, as the server's would be. Nothing leaves the file.
(function () {
  "use strict";
  const text = (id) => document.getElementById(id).textContent.trim();
  const unpack = (b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer();
  };
  const ready = Promise.all([unpack(text("zones-offline-data")), unpack(text("zones-offline-tiles"))])
    .then(([data, tiles]) => ({D: JSON.parse(new TextDecoder().decode(data)), tiles: new Uint8Array(tiles)}));

  const json = (body, status = 200) => new Response(JSON.stringify(body), {status, headers: {"Content-Type": "application/json"}});
  const missing = () => json({error: "not_found", message: "—"}, 404);
  const fold = (s) => String(s || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d").replace(/Đ/g, "d")
    .toLowerCase().trim();

  function levelOf(D, unit, i) {
    const t = D.table.units[unit];
    return t && i >= 0 && i < t.level.length ? D.table.levels[t.level.charCodeAt(i) - 48] : null;
  }
  function at(list, i) { return list ? list[i] : undefined; }
  function declaredOf(D) {
    if (!D._declared) { D._declared = Object.fromEntries(D.declarations.units.map((d) => [String(d.code), d])); }
    return D._declared;
  }
  function parent(D, unit, i) {
    const p = D.panels[unit];
    const lv = levelOf(D, unit, i);
    return {code: D.index.units[unit].code[i], name: D.index.units[unit].name[i], level: lv,
            explanation: at(p && p.e, i), explanation_en: at(p && p.e, i)};
  }
  // a unit's panel, as /api/zones/<code> gives it
  function panel(D, unit, code) {
    const idx = D.index.units[unit];
    const i = idx ? idx.code.indexOf(code) : -1;
    const p = D.panels[unit];
    if (i < 0 || !p) { return null; }
    const level = levelOf(D, unit, i);
    const d = declaredOf(D)[code];
    const measures = Object.fromEntries(D.measures.map((m) => [m.id, m]));
    const u = {code, name: idx.name[i], unit, level, explanation: at(p.e, i), explanation_en: at(p.e, i),
               community_cases: at(p.k, i), population: at(p.p, i), outlook_down_date: at(p.od, i),
               outlook_down_level: at(p.ol, i), outlook_safe_date: at(p.os, i), outbreak_over: Boolean(at(p.oo, i)),
               adjacent_to: at(p.a, i) || [], declared_level: d ? d.level : null, declared_decision: d ? d.decision : null,
               level_differs: Boolean(d && d.level !== level),
               measures_list: String(at(p.m, i) || "").split(",").filter((m) => measures[m]).map((m) => measures[m])};
    if (unit === "commune") {
      if (idx.district && D.index.units.district && idx.district[i] >= 0) { u.district = parent(D, "district", idx.district[i]); }
      if (D.index.units.province && idx.province[i] >= 0) { u.province = parent(D, "province", idx.province[i]); }
      u.lockdowns = (at(p.lk, i) || []).map((k) => D.lockdowns.features[k].properties);
    } else if (unit === "district" && D.index.units.province && idx.province[i] >= 0) {
      u.province = parent(D, "province", idx.province[i]);
    }
    return u;
  }
  // /api/search: the names without their tones, whole names first, then beginnings, then anywhere
  function search(D, q) {
    const want = fold(q);
    const out = [];
    for (const unit of ["province", "district", "commune"]) {
      const idx = D.index.units[unit];
      if (!idx) { continue; }
      idx.name.forEach((name, i) => {
        const key = fold(name);
        const rank = key === want ? 0 : key.startsWith(want) || key.includes(" " + want) ? 1 : key.includes(want) ? 2 : -1;
        if (rank < 0) { return; }
        const box = unit === "province" ? idx.bbox[i] : at(D.panels[unit] && D.panels[unit].b, i);
        if (!box) { return; }
        const district = unit === "commune" && idx.district ? D.index.units.district.name[idx.district[i]] : null;
        const province = unit !== "province" && D.index.units.province ? D.index.units.province.name[idx.province[i]] : null;
        out.push({unit, i, code: idx.code[i], name, level: levelOf(D, unit, i), bbox: box, rank,
                  district_name: district, province_name: province});
      });
    }
    out.sort((a, b) => a.rank - b.rank || a.name.localeCompare(b.name, "vi"));
    return out.slice(0, 20);
  }
  function answer(url) {
    return ready.then(({D, tiles}) => {
      const u = new URL(url, "http://offline.invalid/");
      const path = u.pathname;
      let m = /^\/tiles\/shapes\/[^/]+\/(\d+)\/(\d+)\/(\d+)\.mvt$/.exec(path);
      if (m) {
        const where = D.tiles[`${m[1]}/${m[2]}/${m[3]}`];
        return where ? new Response(tiles.slice(where[0], where[0] + where[1]), {status: 200})
          : new Response(null, {status: 204});
      }
      if (/^\/tiles\/shapes\/[^/]+\/index\.json$/.test(path)) { return json(D.index); }
      if (/^\/tiles\/runs\/[^/]+\/map-levels\.json$/.test(path)) { return json(D.table); }
      if (path === "/api/hotspots") { return json(D.hot); }
      if (path === "/api/declarations") { return json(D.declarations); }
      if (path === "/api/lockdowns.geojson") { return json(D.lockdowns); }
      if (path === "/api/search") { return json({results: search(D, u.searchParams.get("q") || "")}); }
      m = /^\/api\/zones\/([^/]+)$/.exec(path);
      if (m) {
        const found = panel(D, u.searchParams.get("unit") || "commune", decodeURIComponent(m[1]));
        return found ? json(found) : missing();
      }
      return missing();        // the history, the trend: not in the file
    });
  }
  window.fetch = (input) => answer(typeof input === "string" ? input : input.url);
  window.zonesOffline = {ready};
}());
