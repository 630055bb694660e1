// The pages of money moving: the Ledger (totals, the tail of entries, verify), Cards (authorizations
// and their rules) and Receipts (the reading queue).
import { el, fmt, SignedOut, api, Series, tiles, chart, table, badge, section, moneyColumns } from "./dom.js";

const TailRowsMax = 100;

export function ledgerPage(root) {
  let newest = 0;
  let rows = [];
  const verifyButton = el("button", { class: "action", id: "run-verify", type: "button", text: "Run verify" });
  const verifyResult = el("div", { id: "verify-result", class: "muted", text: "–" });
  const totals = table("totals", moneyColumns);
  const tail = table("tail", [
    { title: "Seq", num: true, value: (e) => fmt.int(e.seq) },
    { title: "Time", value: (e) => fmt.time(e.transfer.created_at) },
    { title: "Tenant", id: true, value: (e) => e.tenant_id },
    { title: "From", id: true, value: (e) => e.transfer.source },
    { title: "To", id: true, value: (e) => e.transfer.destination },
    { title: "Amount", num: true, value: (e) => `${e.transfer.amount} ${e.transfer.currency}` },
    { title: "Transfer", id: true, value: (e) => e.transfer.id },
  ]);
  let lastVerify = null;
  const showVerify = (run) => {
    lastVerify = run;
    verifyResult.replaceChildren(...(run
      ? [badge(run.ok ? "ok" : "failed"), ` ${fmt.dateTime(run.ran_at)} · ${fmt.int(run.wallets_checked)} wallets, ${fmt.int(run.entries_checked)} entries in ${fmt.num(run.duration_ms, 0)} ms`,
        ...(run.ok ? [] : [` · ${run.problem_count} problems: ${run.problems.slice(0, 3).map((p) => `${p.code} ${p.detail}`).join("; ")}`])]
      : ["never run"]));
  };
  verifyButton.addEventListener("click", async () => {
    verifyButton.disabled = true;
    verifyResult.textContent = "verifying…";
    try {
      showVerify(await api("verify", { method: "POST" }));
    } catch (error) {
      if (!(error instanceof SignedOut)) { verifyResult.textContent = `verify failed: ${error.message}`; }
    } finally {
      verifyButton.disabled = false;
    }
  });
  root.append(
    ...section("Last verify", el("div", { class: "panel" }, verifyResult, el("p", {}, verifyButton))),
    ...section("Totals per currency", totals.node),
    ...section("Live tail of committed entries", tail.node));
  return async () => {
    const ledger = await api(`ledger?after=${newest}`);
    const before = newest;
    if (ledger.entries.length) {
      rows = [...ledger.entries, ...rows].slice(0, TailRowsMax);
      newest = rows[0].seq;
    }
    tail.set(rows, { fresh: (e) => before > 0 && e.seq > before, empty: "no entries yet" });
    totals.set(ledger.totals, { empty: "no wallets yet" });
    if (!verifyButton.disabled && JSON.stringify(ledger.last_verify) !== JSON.stringify(lastVerify)) showVerify(ledger.last_verify);
  };
}

export function cardsPage(root) {
  const series = new Series();
  const figures = tiles([
    ["authorizations_per_second", "Authorizations / s"], ["approval_rate", "Approval rate"], ["approved", "Approved"], ["declined", "Declined"], ["reviews", "Flagged for review"],
  ]);
  const decisions = chart("authorizations", "Authorizations per second", [
    { key: "approved", label: "approved", value: (p) => p.approved }, { key: "declined", label: "declined", value: (p) => p.declined }, { key: "reviews", label: "flagged", value: (p) => p.reviews }]);
  const reasons = table("decline-reasons", [{ title: "Decline reason", value: (r) => r.name }, { title: "Count", num: true, value: (r) => fmt.int(r.count) }]);
  const flags = table("fraud-flags", [{ title: "Fraud rule", value: (r) => r.name }, { title: "Fired", num: true, value: (r) => fmt.int(r.count) }]);
  root.append(figures.node, el("p", { class: "muted", text: "Counts are over the last 10 minutes, every silo's decisions as the database holds them." }),
    el("div", { class: "charts" }, decisions.node),
    el("div", { class: "cols" }, el("div", {}, ...section("Decline reasons", reasons.node)), el("div", {}, ...section("Fraud flags", flags.node))));
  return async () => {
    const cards = await api(`cards?since=${series.last}`);
    series.add(cards.series);
    figures.set("authorizations_per_second", fmt.num(cards.authorizations_per_second));
    figures.set("approval_rate", cards.approved + cards.declined ? fmt.pct(cards.approval_rate) : "–");
    figures.set("approved", fmt.int(cards.approved));
    figures.set("declined", fmt.int(cards.declined));
    figures.set("reviews", fmt.int(cards.reviews));
    decisions.draw(series.points);
    reasons.set(cards.decline_reasons, { empty: "no declines" });
    flags.set(cards.fraud_flags, { empty: "no fraud rule fired" });
  };
}

export function receiptsPage(root) {
  const statuses = ["processing", "verified", "mismatch", "unreadable", "failed"];
  const figures = tiles(statuses.map((s) => [s, s[0].toUpperCase() + s.slice(1)]));
  const message = el("div", { id: "receipt-message", class: "muted", text: "" });
  const preview = el("div", { class: "panel preview", id: "receipt-preview" },
    el("span", { class: "muted", text: "Choose a receipt's file to see it here, with the text read from it." }));
  const field = (f) => f ? f.value : "–";
  const read = (r) => r.extracted
    ? `${field(r.extracted.total)} · ${field(r.extracted.date)} · ${field(r.extracted.merchant)}`
    : "–";
  const actions = (r) => el("span", { class: "actions" },
    el("button", { class: "link", type: "button", "data-view": r.id, text: "file" }),
    el("button", { class: "action small", type: "button", "data-retry": r.id, text: "Retry" }));
  const columns = (why) => [
    { title: "Receipt", id: true, value: (r) => r.id },
    { title: "Uploaded", value: (r) => fmt.dateTime(r.created_at) },
    { title: "Authorization", id: true, value: (r) => r.authorization_id ?? "none" },
    { title: "Read (total · date · merchant)", value: read },
    { title: why, value: (r) => r.error ?? (r.reasons.length ? r.reasons.join(", ") : "–") },
    { title: "Attempts", num: true, value: (r) => fmt.int(r.attempts) },
    { title: "", value: actions },
  ];
  const lists = {
    processing: table("receipts-processing", columns("Last error")),
    failed: table("receipts-failed", columns("Error")),
    mismatches: table("receipts-mismatch", columns("Reasons")),
    unreadable: table("receipts-unreadable", columns("Reasons")),
  };
  let shown = new Map();

  function showFile(id) {
    const receipt = shown.get(id);
    const file = `/dashboard/api/receipts/${encodeURIComponent(id)}/file`;
    const body = receipt?.content_type === "application/pdf"
      ? el("a", { href: file, download: `${id}.pdf`, text: "Download the PDF" })
      : el("img", { src: file, alt: `receipt ${id}`, "data-receipt": id });
    preview.replaceChildren(
      el("div", { class: "title", text: `${id} · ${receipt?.status ?? ""}` }),
      el("div", { class: "preview-body" }, body, el("pre", { class: "receipt-text", text: receipt?.extracted?.text ?? "(nothing read yet)" })));
  }

  root.addEventListener("click", async (event) => {
    const view = event.target.closest("button[data-view]");
    if (view) { showFile(view.dataset.view); return; }
    const retry = event.target.closest("button[data-retry]");
    if (!retry) return;
    retry.disabled = true;
    try {
      const receipt = await api(`receipts/${encodeURIComponent(retry.dataset.retry)}/retry`, { method: "POST" });
      message.textContent = `${receipt.id} is being read again`;
    } catch (error) {
      if (!(error instanceof SignedOut)) message.textContent = `retry failed: ${error.message}`;
    }
  });

  root.append(figures.node, el("p", { class: "muted", text: "This tenant's receipts; the lists show the newest 50 of each." }), message,
    ...section("Receipt", preview),
    ...section("Queue (being read)", lists.processing.node),
    ...section("Failed", lists.failed.node),
    ...section("Mismatches", lists.mismatches.node),
    ...section("Unreadable", lists.unreadable.node));
  return async () => {
    const queue = await api("receipts");
    for (const status of statuses) figures.set(status, fmt.int(queue.counts[status] ?? 0));
    shown = new Map([...queue.processing, ...queue.failed, ...queue.mismatches, ...queue.unreadable].map((r) => [r.id, r]));
    lists.processing.set(queue.processing, { empty: "nothing being read" });
    lists.failed.set(queue.failed, { empty: "no failed readings" });
    lists.mismatches.set(queue.mismatches, { empty: "no mismatches" });
    lists.unreadable.set(queue.unreadable, { empty: "nothing unreadable" });
  };
}

