// The backtest page's runs over history: while one is queued or running, its progress is read again every 2 s.
(function () {
  "use strict";
  const table = document.querySelector("table.qa-runs");
  if (!table) return;
  const busy = () => table.querySelector('tr[data-status="queued"], tr[data-status="running"]');
  async function refresh() {
    if (!busy()) return;
    try {
      const answer = await fetch(table.dataset.url, { headers: { Accept: "application/json" } });
      if (answer.ok) {
        for (const run of (await answer.json()).runs) {
          const row = table.querySelector(`tr[data-run="${run.id}"]`);
          if (!row) continue;
          row.dataset.status = run.status;
          row.querySelector("progress").value = run.percent;
          row.querySelector('[data-field="count"]').textContent = `${run.done} / ${run.total ?? "…"}`;
          row.querySelector('[data-field="added"]').textContent = run.added;
          row.querySelector('[data-field="status"]').textContent = run.status_label;
          row.querySelector('[data-field="started"]').textContent = run.started || "—";
          row.querySelector('[data-field="finished"]').textContent = run.finished || "—";
        }
      }
    } finally {
      if (busy()) setTimeout(refresh, 2000);
    }
  }
  setTimeout(refresh, 2000);
})();
