// What every page of the ledger's operator pages is built from: DOM and SVG helpers, number
// formats, the dashboard's API (a 401 goes to the sign-in page), the one-second series, tiles,
// charts, tables and a review row's Resolve button.

const WindowSeconds = 600;

// ---- small helpers ----------------------------------------------------------------------

export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (name === "class") node.className = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);
  return node;
}

export const fmt = {
  int: (x) => Math.round(x ?? 0).toLocaleString("en-US"),
  num: (x, digits = 1) => (x ?? 0).toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }),
  pct: (x) => ((x ?? 0) * 100).toLocaleString("en-US", { maximumFractionDigits: 2 }) + " %",
  time: (iso) => iso ? new Date(iso).toLocaleTimeString("en-GB") : "–",
  dateTime: (iso) => iso ? new Date(iso).toLocaleString("en-GB") : "–",
};

export class SignedOut extends Error {}

export async function api(path, options = {}) {
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
export class Series {
  points = [];
  get last() { return this.points.length ? this.points[this.points.length - 1].t : 0; }
  add(points) {
    for (const point of points) if (point.t > this.last) this.points.push(point);
    const oldest = this.last - WindowSeconds;
    while (this.points.length && this.points[0].t <= oldest) this.points.shift();
  }
}

// ---- building blocks ----------------------------------------------------------------------

export function tiles(definitions) {
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
export function chart(name, title, lines, format = (v) => fmt.num(v, 1)) {
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

export function table(name, columns) {
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

export const badge = (text) => el("span", { class: `badge ${text}`, text });
export const section = (title, ...children) => [el("h2", { text: title }), ...children];

export const moneyColumns = [
  { title: "Currency", value: (m) => m.currency },
  { title: "Issued by treasury", num: true, value: (m) => m.issued },
  { title: "Held in user wallets", num: true, value: (m) => m.held_by_users },
  { title: "Pending in holds", num: true, value: (m) => m.pending_in_holds },
  { title: "In system accounts", num: true, value: (m) => m.in_system_accounts },
  { title: "User wallets", num: true, value: (m) => fmt.int(m.user_wallets) },
];

// A row's Resolve button (data-resolve: the item's id): the row's choice (select[data-<choice>]) and
// note (input[data-note], required) posted to path(id) as body(choice, note); true once resolved.
export async function resolveRow(root, button, message, { choice, path, body, said }) {
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
