// The approver's review: another province reloads the page; a level other than the proposed one asks for its
// reason; approving asks once, saying the decision's number and how many units change.
(function () {
  "use strict";
  const province = document.querySelector("#proposal select[name=province]");
  if (province) { province.addEventListener("change", () => province.form.submit()); }
  const form = document.getElementById("approve-form");
  if (!form) { return; }
  for (const select of form.querySelectorAll("select[name^='level::']")) {
    const proposed = select.value;
    const reason = form.querySelector(`input[name='reason::${select.name.slice(7)}']`);
    select.addEventListener("change", () => { reason.required = select.value !== proposed; });
  }
  form.addEventListener("submit", (e) => {
    const n = form.querySelectorAll("tr[data-code]").length;
    const text = form.dataset.ask.replace("{number}", form.querySelector("input[name=number]").value).replace("{n}", n);
    if (!window.confirm(text)) { e.preventDefault(); }
  });
})();
