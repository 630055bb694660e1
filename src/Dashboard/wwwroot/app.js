// The ledger's operator pages: one page shell, six views (Ledger, Cards, Receipts, Reconciliation, Reports, Compliance), each polling its figures
// once a second from /dashboard/api. Silos, grains and calls are on Orleans' dashboard at /dashboard,
// linked from the nav. Plain DOM and SVG in modules of this folder, no framework and nothing fetched from elsewhere.
import { SignedOut } from "./dom.js";
import { cardsPage, ledgerPage, receiptsPage } from "./money-pages.js";
import { compliancePage, reconciliationPage, reportsPage } from "./review-pages.js";

const PollMs = 1000;

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
