// The pages of review: Reconciliation (runs and their unmatched items), Reports (the balance sheet
// and trial balance) and Compliance (the review queue and rescreenings).
import { el, fmt, api, tiles, table, badge, section, resolveRow } from "./dom.js";

export function reconciliationPage(root) {
  let selected = null;
  let shownItems = "";
  const message = el("div", { id: "recon-message", class: "muted", text: "" });
  const count = (run, name) => (run.summary ? fmt.int(run.summary[name]) : "–");
  const runs = table("recon-runs", [
    { title: "Run", id: true, value: (r) => r.run.id },
    { title: "Source", value: (r) => r.source_name },
    { title: "Period", value: (r) => `${fmt.dateTime(r.run.from)} – ${fmt.dateTime(r.run.to)}` },
    { title: "Status", value: (r) => badge(r.run.status) },
    { title: "Progress", num: true, value: (r) => fmt.pct(r.run.progress) },
    { title: "Exact", num: true, value: (r) => count(r, "exact") },
    { title: "Fuzzy", num: true, value: (r) => count(r, "fuzzy") },
    { title: "Unmatched (ledger · records)", num: true, value: (r) => (r.summary ? `${fmt.int(r.summary.unmatched_internal)} · ${fmt.int(r.summary.unmatched_external)}` : "–") },
    { title: "Open", num: true, value: (r) => count(r, "open") },
    { title: "", value: (r) => el("button", { class: "link", type: "button", "data-run": r.run.id, text: "view" }) },
  ]);
  const title = el("div", { id: "recon-run", class: "muted", text: "Choose a run to see what it left unmatched." });
  const amounts = table("recon-amounts", [
    { title: "Currency", value: (a) => a.currency },
    { title: "Records", num: true, value: (a) => a.external_total },
    { title: "Ledger", num: true, value: (a) => a.internal_total },
    { title: "Exact", num: true, value: (a) => a.exact },
    { title: "Fuzzy", num: true, value: (a) => a.fuzzy },
    { title: "Unmatched ledger", num: true, value: (a) => a.unmatched_internal },
    { title: "Unmatched records", num: true, value: (a) => a.unmatched_external },
    { title: "Difference", num: true, value: (a) => a.difference },
  ]);
  const side = (i) => i.external ?? i.internal;

  // An open item's decision: write it off, or match it with an open item of the other side in its currency; a note either way.
  function decision(item, open) {
    if (item.resolution) {
      const r = item.resolution;
      return `${r.action === "match" ? `matched with ${r.counterpart_id}` : "written off"}: ${r.note}`;
    }
    const choice = el("select", { "data-choice": item.id },
      el("option", { value: "", text: "write off" }),
      ...open.filter((o) => o.side !== item.side && o.currency === item.currency)
        .map((o) => el("option", { value: o.id, text: `match ${o.side === "internal" ? o.internal.entry_id : o.external.id} (${side(o).amount})` })));
    return el("span", { class: "actions" }, choice,
      el("input", { type: "text", "data-note": item.id, placeholder: "note", maxlength: "1000" }),
      el("button", { class: "action small", type: "button", "data-resolve": item.id, text: "Resolve" }));
  }
  let open = [];
  const unmatched = table("recon-unmatched", [
    { title: "Item", id: true, value: (i) => i.id },
    { title: "Side", value: (i) => (i.side === "internal" ? "ledger" : "record") },
    { title: "Id", id: true, value: (i) => (i.internal ? i.internal.entry_id : i.external.id) },
    { title: "Amount", num: true, value: (i) => `${side(i).amount} ${i.currency}` },
    { title: "Time", value: (i) => fmt.dateTime(side(i).at) },
    { title: "Reference", value: (i) => side(i).reference ?? "–" },
    { title: "Why", value: (i) => i.reasons.join("; ") },
    { title: "Decision", value: (i) => decision(i, open) },
  ]);

  root.addEventListener("click", async (event) => {
    const view = event.target.closest("button[data-run]");
    if (view) {
      selected = view.dataset.run;
      shownItems = "";
      await refresh().catch(() => {});
      return;
    }
    const resolve = event.target.closest("button[data-resolve]");
    if (!resolve) return;
    const resolved = await resolveRow(root, resolve, message, {
      choice: "choice",
      path: (id) => `reconciliation/items/${encodeURIComponent(id)}/resolve`,
      body: (counterpart, note) => (counterpart ? { action: "match", counterpart_id: counterpart, note } : { action: "write_off", note }),
      said: (counterpart) => (counterpart ? `matched with ${counterpart}` : "written off"),
    });
    if (resolved) {
      shownItems = "";
      await refresh().catch(() => {});
    }
  });

  root.append(el("p", { class: "muted", text: "This tenant's newest reconciliation runs; a run's items never change, decisions are kept beside them." }),
    ...section("Runs", runs.node), ...section("Run", el("div", { class: "panel" }, title, message)),
    ...section("Amounts", amounts.node), ...section("Unmatched", unmatched.node));

  async function refresh() {
    const desk = await api("reconciliation");
    runs.set(desk.runs, { empty: "no runs yet" });
    if (!selected) return;
    const detail = await api(`reconciliation/runs/${encodeURIComponent(selected)}`);
    const run = detail.run;
    title.textContent = `${run.run.id} · ${run.source_name} · ${run.run.status}` +
      (run.summary ? ` · ${fmt.int(run.summary.open)} open of ${fmt.int(run.summary.unmatched_internal + run.summary.unmatched_external)} unmatched` : "") +
      (detail.more_unmatched ? ` (the first ${detail.unmatched.length} shown)` : "");
    amounts.set(run.summary?.amounts ?? [], { empty: run.summary ? "nothing in this period" : "not completed" });
    // Redrawn only when it changed: a note being written is not wiped by the next poll.
    const items = JSON.stringify(detail.unmatched);
    if (items !== shownItems) {
      shownItems = items;
      open = detail.unmatched.filter((i) => !i.resolution);
      unmatched.set(detail.unmatched, { empty: run.summary ? "everything matched" : "not completed" });
    }
  }
  return refresh;
}

// The tenant's balance sheet with its check, and its trial balance, as of one instant; read again every ten seconds.
export function reportsPage(root) {
  const ReadEveryMs = 10_000;
  let readAt = 0;
  const when = el("p", { id: "reports-as-of", class: "muted", text: "" });
  const sheets = el("div", { id: "balance-sheets" });
  const trial = table("trial-balance", [
    { title: "Asset", value: (l) => l.asset },
    { title: "Account", value: (l) => l.account },
    { title: "Type", value: (l) => l.type },
    { title: "Debit", num: true, value: (l) => l.debit },
    { title: "Credit", num: true, value: (l) => l.credit },
  ]);
  root.append(when, ...section("Balance sheet", sheets), ...section("Trial balance", trial.node));
  return async () => {
    if (Date.now() - readAt < ReadEveryMs) return;
    const reports = await api("reports");
    readAt = Date.now();
    when.textContent = `As of ${fmt.dateTime(reports.trial_balance.as_of)}, the ledger's entry ${fmt.int(reports.trial_balance.ledger_seq)}.`;
    sheets.replaceChildren(...(reports.balance_sheet.by_asset.length ? reports.balance_sheet.by_asset.map((a) => {
      const check = a.check.balanced ? badge("ok") : el("span", { class: "badge failed", text: `off by ${a.check.difference}` });
      check.dataset.check = a.asset;
      const figures = tiles([["assets", "Assets"], ["liabilities", "Liabilities"], ["equity", "Equity"], ["difference", "Difference"]]);
      figures.set("assets", a.total_assets);
      figures.set("liabilities", a.total_liabilities);
      figures.set("equity", a.total_equity);
      figures.set("difference", a.check.difference);
      return el("div", { class: "sheet", "data-asset": a.asset }, el("h3", {}, `${a.asset} `, check), figures.node);
    }) : [el("p", { class: "muted", text: "Nothing posted yet." })]));
    trial.set(reports.trial_balance.by_asset.flatMap((a) => [
      ...a.accounts.map((l) => ({ asset: a.asset, ...l })),
      { asset: a.asset, account: "total", type: a.balanced ? "balanced" : "not balanced", debit: a.debits, credit: a.credits },
    ]), { empty: "nothing posted yet" });
  };
}

// The review queue: potential matches and matches waiting for a decision, each resolved here with a note; and the latest rescreenings.
export function compliancePage(root) {
  let shown = "";
  const message = el("div", { id: "compliance-message", class: "muted", text: "" });
  const best = (s) => s.hits[0];
  const reviews = table("reviews", [
    { title: "Screening", id: true, value: (s) => s.id },
    { title: "Subject", value: (s) => s.subject },
    { title: "Name", value: (s) => s.name },
    { title: "Wallet", id: true, value: (s) => s.wallet_id ?? "–" },
    { title: "Status", value: (s) => el("span", { class: `badge ${s.status === "match" ? "failed" : "running"}`, text: s.status.replace("_", " ") }) },
    { title: "Best hit", value: (s) => (best(s) ? `${best(s).entry.name} (${best(s).entry.list}, line ${best(s).entry.line})` : "–") },
    { title: "Score", num: true, value: (s) => (best(s) ? String(best(s).score) : "–") },
    { title: "Screened", value: (s) => fmt.dateTime(s.created_at) },
    { title: "Decision", value: (s) => el("span", { class: "actions" },
        el("select", { "data-decision": s.id },
          el("option", { value: "cleared", text: "cleared", title: "not the listed person: the review is lifted" }),
          el("option", { value: "confirmed", text: "confirmed", title: "the listed person: the wallet stays under review" })),
        el("input", { type: "text", "data-note": s.id, placeholder: "note", maxlength: "2000" }),
        el("button", { class: "action small", type: "button", "data-resolve": s.id, text: "Resolve" })) },
  ]);
  const jobs = table("compliance-jobs", [
    { title: "Job", id: true, value: (j) => j.id },
    { title: "Trigger", value: (j) => j.trigger },
    { title: "Status", value: (j) => badge(j.status) },
    { title: "Screened", num: true, value: (j) => fmt.int(j.screened) },
    { title: "Put under review", num: true, value: (j) => fmt.int(j.flagged) },
    { title: "Started", value: (j) => fmt.dateTime(j.started_at) },
    { title: "Error", value: (j) => j.error ?? "" },
  ]);

  root.addEventListener("click", async (event) => {
    const resolve = event.target.closest("button[data-resolve]");
    if (!resolve) return;
    const resolved = await resolveRow(root, resolve, message, {
      choice: "decision",
      path: (id) => `compliance/screenings/${encodeURIComponent(id)}/resolve`,
      body: (decision, note) => ({ decision, note }),
      said: (decision) => decision,
    });
    if (resolved) {
      shown = "";
      await refresh().catch(() => {});
    }
  });

  root.append(el("p", { class: "muted", text: "Wallets under review refuse withdrawals until their screening is resolved; a cleared finding is not raised again." }),
    ...section("Review queue", el("div", { class: "panel" }, message), reviews.node), ...section("Rescreenings", jobs.node));

  async function refresh() {
    const desk = await api("compliance");
    // Redrawn only when it changed: a note being written is not wiped by the next poll.
    const queue = JSON.stringify(desk.reviews);
    if (queue !== shown) {
      shown = queue;
      reviews.set(desk.reviews, { empty: "nothing to review" });
    }
    jobs.set(desk.jobs, { empty: "no rescreening yet" });
  }
  return refresh;
}
