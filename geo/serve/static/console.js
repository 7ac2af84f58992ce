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
        for (const f of data.fields) { select.append(new Option(f, f, false, f === col.target)); }
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
