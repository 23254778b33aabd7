// Tiny DOM helpers: build elements from data without innerHTML, so API text is never parsed as HTML.

/**
 * h("div", {class: "x", onclick: fn}, child, "text", [more]) -> HTMLElement.
 * Attributes starting with "on" become listeners; false/null attributes are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.className = value;
    } else if (key === "dataset") {
      Object.assign(el.dataset, value);
    } else if (value === true) {
      el.setAttribute(key, "");
    } else {
      el.setAttribute(key, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace the children of `el`. */
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** Announce a short status to screen readers through the page's aria-live region. */
export function announce(text) {
  const region = document.getElementById("announcer");
  if (region) region.textContent = text;
}

/** "12.3 s" / "1:02.5" for a time in seconds. */
export function formatTime(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "";
  const s = Number(seconds);
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return `${m}:${(s - m * 60).toFixed(1).padStart(4, "0")}`;
}

/** "37/100" -> 37 (null when absent or unparseable). */
export function parseProgress(text) {
  if (text === null || text === undefined) return null;
  const m = /^(\d+(?:\.\d+)?)\s*\/\s*(\d+)/.exec(String(text));
  if (!m) return null;
  return Math.max(0, Math.min(100, (Number(m[1]) / Number(m[2])) * 100));
}

/** A labelled <progress> element; aria-valuetext carries the number for screen readers. */
export function progressBar(percent, label) {
  const bar = h("progress", { max: "100", "aria-label": label });
  if (percent !== null && percent !== undefined) {
    bar.value = percent;
    bar.setAttribute("aria-valuetext", `${Math.round(percent)} percent`);
  }
  return bar;
}

/** A status pill: started|completed|error|queued|generating|ready|deleted. */
export function statusBadge(status) {
  const text = status || "unknown";
  return h("span", { class: `badge badge-${text}` }, text);
}

export function errorBox(message) {
  return h("div", { class: "error-box", role: "alert" }, message);
}

export function formatDate(value) {
  if (!value) return "";
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toLocaleString();
}
