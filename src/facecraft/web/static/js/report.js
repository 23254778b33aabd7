// Render a check report (faces CheckReport.to_dict(), or the image-validation shape) check by check.

import { formatTime, h } from "./dom.js";

const ICONS = { pass: "✓", warn: "!", fail: "✗" };
const WORDS = { pass: "Passed", warn: "Warning", fail: "Failed" };
const MAX_FRAMES_PER_CHECK = 2;

/**
 * The fullest check report in an API answer. Validation answers are `{passed, checks, details}`
 * with the full CheckReport in `details`; a verbose Face carries it in `report`.
 */
export function reportOf(data) {
  if (!data || typeof data !== "object") return null;
  for (const candidate of [data.details, data.report, data.check_report, data]) {
    if (candidate && typeof candidate === "object" && Array.isArray(candidate.checks)) return candidate;
  }
  return null;
}

/** pass|warn|fail of one check, also for the image-validation shape `{id, label, passed}`. */
export function checkStatus(check) {
  if (check.status === "pass" || check.status === "warn" || check.status === "fail") return check.status;
  if (check.passed === false) return "fail";
  return "pass";
}

/** Overall status of a report: its own field, else derived from the checks. */
export function reportStatus(report) {
  if (report.status === "pass" || report.status === "warn" || report.status === "fail") return report.status;
  const states = new Set(report.checks.map(checkStatus));
  if (states.has("fail") || report.passed === false) return "fail";
  return states.has("warn") ? "warn" : "pass";
}

function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function formatValue(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3);
  }
  return String(value);
}

function measurement(check) {
  const value = formatValue(check.value);
  const threshold = formatValue(check.threshold);
  if (value === null && threshold === null) return null;
  const parts = [];
  if (value !== null) parts.push(`measured ${value}`);
  if (threshold !== null) parts.push(`threshold ${threshold}`);
  return h("p", { class: "check-measure" }, parts.join(" · "));
}

function rangeText(range) {
  const [start, end] = range;
  if (end === undefined || end === null || Math.abs(end - start) < 0.05) return `at ${formatTime(start)}`;
  return `${formatTime(start)} – ${formatTime(end)}`;
}

/**
 * One <li> per check. `grabber` (a FrameGrabber over the uploaded file) adds a frame from the middle
 * of the first problem ranges; frames arrive asynchronously and never block the report.
 */
function renderCheck(check, grabber) {
  const status = checkStatus(check);
  const ranges = Array.isArray(check.ranges) ? check.ranges.filter((r) => Array.isArray(r) && r.length >= 1) : [];
  const item = h(
    "li",
    { class: `check check-${status}`, dataset: { checkId: check.id || "", status } },
    h("span", { class: "check-icon", "aria-hidden": "true" }, ICONS[status]),
    h(
      "div",
      { class: "check-body" },
      h(
        "p",
        { class: "check-title" },
        h("span", { class: "visually-hidden" }, `${WORDS[status]}: `),
        h("strong", {}, check.label || check.id || "check"),
        check.id ? h("code", { class: "check-id" }, check.id) : null,
      ),
      check.message ? h("p", { class: "check-message" }, check.message) : null,
      measurement(check),
      ranges.length
        ? h("p", { class: "check-ranges" }, status === "pass" ? "Seen " : "Where: ", ranges.map(rangeText).join(", "))
        : null,
    ),
  );
  if (grabber && ranges.length && status !== "pass") {
    const strip = h("div", { class: "check-frames" });
    item.querySelector(".check-body").append(strip);
    for (const range of ranges.slice(0, MAX_FRAMES_PER_CHECK)) {
      const at = range.length > 1 ? (Number(range[0]) + Number(range[1])) / 2 : Number(range[0]);
      grabber
        .grab(at)
        .then((canvas) => {
          canvas.setAttribute("role", "img");
          canvas.setAttribute("aria-label", `Frame at ${formatTime(at)} for ${check.label || check.id}`);
          canvas.classList.add("check-frame");
          strip.append(h("figure", {}, canvas, h("figcaption", {}, formatTime(at))));
        })
        .catch(() => {
          /* the browser could not decode the file: the time range alone still says where */
        });
    }
  }
  return item;
}

/** Failed checks first, then warnings, then passes (each group in the server's order). */
function bySeverity(checks) {
  const rank = { fail: 0, warn: 1, pass: 2 };
  return checks.map((c, i) => [c, i]).sort((a, b) => rank[checkStatus(a[0])] - rank[checkStatus(b[0])] || a[1] - b[1]).map(([c]) => c);
}

/** A <section> with the overall verdict and the list of checks. */
export function renderReport(report, { grabber = null, title = "Check report" } = {}) {
  const status = reportStatus(report);
  const verdict = {
    pass: "All checks passed.",
    warn: "Usable, with warnings: the Face may look worse where a check warns.",
    fail: "This upload cannot be used: fix the failed checks and upload again.",
  }[status];
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const c of report.checks) counts[checkStatus(c)] += 1;
  return h(
    "section",
    { class: `report report-${status}`, "aria-label": title, dataset: { status } },
    h("h3", {}, title),
    h(
      "p",
      { class: "report-verdict" },
      h("span", { class: `badge badge-${status}` }, status),
      " ",
      verdict,
      ` (${counts.pass} passed, ${plural(counts.warn, "warning")}, ${counts.fail} failed`,
      report.duration_s ? `, ${formatTime(report.duration_s)} of video` : "",
      ")",
    ),
    h("ul", { class: "checks" }, bySeverity(report.checks).map((c) => renderCheck(c, grabber))),
  );
}
