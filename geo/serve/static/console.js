// The what-if drawn: the units whose level would change, filled with the new level's colour over the
// outline of the provinces, a label on each (no background map: the intranet has none to offer).
(function () {
  "use strict";
  const box = document.getElementById("whatif-map");
  const data = document.getElementById("whatif-geo");
  if (!box || !data || typeof L === "undefined") { return; }
  const map = L.map(box, {attributionControl: false, zoomSnap: 0.25});
  const geo = JSON.parse(data.textContent);
  const outline = L.geoJSON({type: "FeatureCollection", features: geo.features.filter((f) => !f.properties.changed)},
    {style: {color: "#6b7280", weight: 1, fill: false}, interactive: false}).addTo(map);
  const changed = L.geoJSON({type: "FeatureCollection", features: geo.features.filter((f) => f.properties.changed)},
    {style: (f) => (f.properties.fill ? {color: "#111827", weight: 1.5, fillColor: f.properties.color, fillOpacity: 0.85}
                                       : {color: f.properties.color, weight: 5, dashArray: "8 6", fill: false}),
     // a text node, never HTML: a commune's name from a file is shown as written, not run
     onEachFeature: (f, layer) => layer.bindTooltip(document.createTextNode(f.properties.label), {sticky: true})}).addTo(map);
  const bounds = changed.getBounds().isValid() ? changed.getBounds() : outline.getBounds();
  map.fitBounds(bounds.pad(0.3));
  box.dataset.drawn = String(changed.getLayers().length);
})();

// A reclassification started from the console runs beside the page: its stage is polled until it ends,
// then the page is drawn again by the server (the outcome, and a held run in the list below).
(function () {
  "use strict";
  const box = document.getElementById("job");
  if (!box || box.dataset.status !== "running") { return; }
  const button = document.getElementById("reclassify-button");
  if (button) { button.disabled = true; }
  const stage = document.getElementById("job-stage");
  const bar = document.getElementById("job-progress");
  async function poll() {
    const resp = await fetch("/console/jobs/" + box.dataset.job + "?lang=" + box.dataset.lang, {credentials: "same-origin"});
    const job = await resp.json();
    if (!resp.ok) { stage.textContent = job.message || job.error; return; }
    bar.value = job.percent;
    bar.textContent = job.percent + "%";
    if (job.status === "running") {
      stage.textContent = job.stage;
      setTimeout(poll, 400);
    } else {
      location.reload();                // the page of /console?job=… (a GET), now with the outcome
    }
  }
  setTimeout(poll, 200);
})();

// The console's preview: the chosen file is sent to /console/preview (read, not stored, deleted), and
// the answer drawn as a table whose header row lets the operator map each column to one of ours. The
// file stays chosen in the form: "Nhập" sends it again with the choices (map::<header> fields).
(function () {
  "use strict";
  const form = document.getElementById("upload-form");
  const button = document.getElementById("preview-button");
  if (!form || !button) { return; }
  const box = document.getElementById("preview");
  const remember = document.getElementById("remember-label");
  const el = (tag, text) => { const e = document.createElement(tag); if (text !== undefined) { e.textContent = text; } return e; };
  const kindSelect = form.querySelector("select[name=kind]");
  const fileInput = form.querySelector("input[type=file]");

  async function preview() {
    if (!fileInput.files.length) { fileInput.reportValidity(); return; }
    const body = new FormData(form);
    const resp = await fetch("/console/preview", {method: "POST", body, credentials: "same-origin"});
    const data = await resp.json();
    box.replaceChildren();
    box.hidden = false;
    if (!resp.ok) { box.append(el("p", data.message || data.error)); return; }
    box.append(el("p", form.dataset.rows.replace("{n}", data.n_rows)));
    const table = el("table");
    table.id = "preview-table";
    const head = el("tr");
    for (const col of data.columns) {
      const th = el("th");
      th.append(el("div", col.header));
      if (col.personal) {
        th.append(el("small", form.dataset.personal));
      } else {
        const select = el("select");
        select.name = "map::" + col.header;
        select.append(new Option(form.dataset.unused, ""));
        for (const f of data.fields) { select.append(new Option(f.label, f.id, false, f.id === col.target)); }
        th.append(select);
        if (col.remembered) { th.append(el("small", form.dataset.remembered)); }
      }
      head.append(th);
    }
    table.append(head);
    for (const row of data.rows) {
      const tr = el("tr");
      for (const v of row) { tr.append(el("td", v)); }
      table.append(tr);
    }
    box.append(table);
    remember.hidden = false;
  }
  button.addEventListener("click", () => { preview().catch((e) => { box.hidden = false; box.textContent = String(e); }); });
  kindSelect.addEventListener("change", () => { box.replaceChildren(); box.hidden = true; remember.hidden = true; });
  fileInput.addEventListener("change", () => { box.replaceChildren(); box.hidden = true; remember.hidden = true; });
})();

// "Phân loại và công bố ngay" asks once, saying the day and what it replaces (the published run of that day).
(function () {
  "use strict";
  const form = document.getElementById("reclassify-form");
  if (!form) { return; }
  const published = JSON.parse(form.dataset.published || "{}");
  // the day as the page shows it (dd/mm/yyyy), whichever way it was typed
  const shown = (v) => {
    const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v);
    if (iso) { return `${iso[3]}/${iso[2]}/${iso[1]}`; }
    const vn = /^(\d{1,2})\/(\d{1,2})\/(\d{4})$/.exec(v);
    return vn ? `${vn[1].padStart(2, "0")}/${vn[2].padStart(2, "0")}/${vn[3]}` : v;
  };
  form.addEventListener("submit", (e) => {
    const day = shown(form.querySelector("input[name=date]").value.trim());
    const run = published[day];
    const text = form.dataset.ask.replace("{date}", day) + "\n" +
      (run ? form.dataset.replaces.replace("{run}", run) : form.dataset.first);
    if (!window.confirm(text)) { e.preventDefault(); }
  });
})();

// The chosen file's name beside our "Chọn tệp" button.
(function () {
  "use strict";
  const input = document.querySelector("#upload-form input[type=file]");
  const name = document.getElementById("file-name");
  if (!input || !name) { return; }
  input.addEventListener("change", () => { name.textContent = input.files.length ? input.files[0].name : name.dataset.none; });
})();
