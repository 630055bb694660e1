// The ledger's operator pages: one page shell, six views (Ledger, Cards, Receipts, Reconciliation, Reports, Compliance), each polling its figures
// once a second from /dashboard/api. Silos, grains and calls are on Orleans' dashboard at /dashboard,
// linked from the nav. Plain DOM and SVG, no framework and nothing fetched from elsewhere.
"use strict";

(() => {
  const PollMs = 1000;
  const WindowSeconds = 600;
  const TailRowsMax = 100;

  // ---- small helpers ----------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (name === "text") node.textContent = value;
      else if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  const fmt = {
    int: (x) => Math.round(x ?? 0).toLocaleString("en-US"),
    num: (x, digits = 1) => (x ?? 0).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }),
    pct: (x) => ((x ?? 0) * 100).toLocaleString("en-US", { maximumFractionDigits: 2 }) + " %",
    time: (iso) => iso ? new Date(iso).toLocaleTimeString("en-GB") : "–",
    dateTime: (iso) => iso ? new Date(iso).toLocaleString("en-GB") : "–",
  };

  class SignedOut extends Error {}

  async function api(path, options = {}) {
    const response = await fetch(`/dashboard/api/${path}`, {
      credentials: "same-origin",
      ...options,
      headers: { accept: "application/json", ...(options.headers ?? {}) },
    });
    if (response.status === 401) {
      location.href = `/dashboard/login?return_url=${encodeURIComponent(location.pathname)}`;
      throw new SignedOut();
    }
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new Error(body?.detail ?? `${path} answered ${response.status}`);
    return body;
  }

  /** The last ten minutes of one-second points, merged as they arrive. */
  class Series {
    points = [];
    get last() { return this.points.length ? this.points[this.points.length - 1].t : 0; }
    add(points) {
      for (const point of points) if (point.t > this.last) this.points.push(point);
      const oldest = this.last - WindowSeconds;
      while (this.points.length && this.points[0].t <= oldest) this.points.shift();
    }
  }

  // ---- building blocks ----------------------------------------------------------------------

  function tiles(definitions) {
    const values = {};
    const node = el("div", { class: "tiles" });
    for (const [key, label] of definitions) {
      values[key] = el("div", { class: "value", "data-figure": key, text: "–" });
      node.append(el("div", { class: "tile" }, el("div", { class: "label", text: label }), values[key]));
    }
    return { node, set: (key, text) => { values[key].textContent = text; } };
  }

  /**
   * A line chart of the last ten minutes: one path per series, y from zero to the window's maximum.
   * Redrawn whole each time, at the size it is shown, so its labels are never stretched.
   */
  function chart(name, title, lines, format = (v) => fmt.num(v, 1)) {
    const ns = "http://www.w3.org/2000/svg";
    const height = 140, left = 48, top = 8, bottom = 16;
    const svg = document.createElementNS(ns, "svg");
    svg.dataset.chart = name;
    const current = el("span", { text: "" });
    const legend = el("div", { class: "legend" }, ...lines.map((line, i) => el("span", {}, el("i", { class: `s${i + 1}` }), line.label)));
    const node = el("div", { class: "chart" }, el("div", { class: "title" }, el("span", { text: title }), current), svg, legend);

    function svgEl(tag, attributes, text) {
      const child = document.createElementNS(ns, tag);
      for (const [key, value] of Object.entries(attributes)) child.setAttribute(key, value);
      if (text !== undefined) child.textContent = text;
      return child;
    }

    function draw(points) {
      const width = Math.max(300, Math.round(svg.getBoundingClientRect().width) || 600);
      svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
      const end = points.length ? points[points.length - 1].t : Math.floor(Date.now() / 1000);
      const start = end - WindowSeconds;
      const max = Math.max(1e-9, ...lines.flatMap((line) => points.map((p) => line.value(p))));
      const y = (v) => top + (height - top - bottom) * (1 - v / max);
      const children = [];
      for (const f of [0, 0.5, 1]) {
        children.push(svgEl("line", { x1: left, x2: width, y1: y(max * f), y2: y(max * f), class: "grid-line" }));
        children.push(svgEl("text", { x: left - 6, y: y(max * f) + 3, "text-anchor": "end", class: "axis" }, format(max * f)));
      }
      children.push(svgEl("text", { x: left, y: height - 2, class: "axis" }, "−10 min"));
      children.push(svgEl("text", { x: width, y: height - 2, "text-anchor": "end", class: "axis" }, "now"));
      lines.forEach((line, i) => {
        const d = points.map((p, j) => `${j === 0 ? "M" : "L"}${(left + (width - left) * (p.t - start) / WindowSeconds).toFixed(1)},${y(line.value(p)).toFixed(1)}`).join("");
        children.push(svgEl("path", { class: `line s${i + 1}`, "data-series": line.key, d: d || "M0,0" }));
      });
      svg.replaceChildren(...children);
      const last = points[points.length - 1];
      current.textContent = last ? lines.map((line) => `${line.label} ${format(line.value(last))}`).join(" · ") : "no data yet";
    }
    return { node, draw };
  }

  function table(name, columns) {
    const body = el("tbody");
    const node = el("table", { "data-table": name },
      el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { class: c.num ? "num" : "", text: c.title })))), body);
    function set(rows, { fresh = () => false, empty = "nothing yet" } = {}) {
      body.replaceChildren(...(rows.length ? rows.map((row) => el("tr", { class: fresh(row) ? "fresh" : "" },
        ...columns.map((c) => {
          const value = c.value(row);
          return el("td", { class: c.num ? "num" : c.id ? "id" : "" }, value instanceof Node ? value : String(value ?? "–"));
        }))) : [el("tr", {}, el("td", { class: "empty", colspan: String(columns.length), text: empty }))]));
    }
    return { node, set };
  }

  const badge = (text) => el("span", { class: `badge ${text}`, text });
  const section = (title, ...children) => [el("h2", { text: title }), ...children];

  const moneyColumns = [
    { title: "Currency", value: (m) => m.currency },
    { title: "Issued by treasury", num: true, value: (m) => m.issued },
    { title: "Held in user wallets", num: true, value: (m) => m.held_by_users },
    { title: "Pending in holds", num: true, value: (m) => m.pending_in_holds },
    { title: "In system accounts", num: true, value: (m) => m.in_system_accounts },
    { title: "User wallets", num: true, value: (m) => fmt.int(m.user_wallets) },
  ];

  // A row's Resolve button (data-resolve: the item's id): the row's choice (select[data-<choice>]) and
  // note (input[data-note], required) posted to path(id) as body(choice, note); true once resolved.
  async function resolveRow(root, button, message, { choice, path, body, said }) {
    const id = button.dataset.resolve;
    const chosen = root.querySelector(`select[data-${choice}="${id}"]`).value;
    const note = root.querySelector(`input[data-note="${id}"]`).value.trim();
    if (!note) { message.textContent = "write a note: why it is resolved so"; return false; }
    button.disabled = true;
    try {
      await api(path(id), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body(chosen, note)) });
      message.textContent = `${id} ${said(chosen)}`;
      return true;
    } catch (error) {
      if (!(error instanceof SignedOut)) message.textContent = `not resolved: ${error.message}`;
      button.disabled = false;
      return false;
    }
  }

  // ---- pages ----------------------------------------------------------------------------------

  function ledgerPage(root) {
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

  function cardsPage(root) {
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

  function receiptsPage(root) {
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

  function reconciliationPage(root) {
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
  function reportsPage(root) {
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
  function compliancePage(root) {
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

  // ---- routing and the poll loop ----------------------------------------------------------

  const pages = { ledger: ledgerPage, cards: cardsPage, receipts: receiptsPage, reconciliation: reconciliationPage, reports: reportsPage, compliance: compliancePage };
  const live = document.getElementById("live");
  let refresh = null;
  let generation = 0;

  function pageOf(pathname) {
    const name = pathname.replace(/^\/dashboard\/?/, "").split("/")[0];
    return pages[name] ? name : "ledger";
  }

  function show(pathname) {
    const name = pageOf(pathname);
    document.title = `${name[0].toUpperCase()}${name.slice(1)} · Wallet dashboard`;
    for (const link of document.querySelectorAll("nav a")) link.classList.toggle("active", link.dataset.page === name);
    const root = document.getElementById("page");
    root.replaceChildren();
    root.dataset.page = name;
    refresh = pages[name](root);
    generation++;
    poll(generation);
  }

  async function poll(mine) {
    if (mine !== generation) return;
    try {
      await refresh();
      if (mine !== generation) return;
      live.className = "live ok";
      live.textContent = `live · ${new Date().toLocaleTimeString("en-GB")}`;
      live.dataset.updated = String(Date.now());
    } catch (error) {
      if (error instanceof SignedOut) return;
      live.className = "live down";
      live.textContent = `not updating: ${error.message}`;
    }
    setTimeout(() => poll(mine), PollMs);
  }

  document.querySelector("nav").addEventListener("click", (event) => {
    const link = event.target.closest("a[data-page]");
    if (!link) return;
    event.preventDefault();
    if (link.getAttribute("href") !== location.pathname) history.pushState({}, "", link.getAttribute("href"));
    show(location.pathname);
  });
  window.addEventListener("popstate", () => show(location.pathname));
  show(location.pathname);
})();
