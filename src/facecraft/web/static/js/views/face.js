// One Face: status and training progress, its check report, a preview, rename and delete.

import { faceActions } from "../actions.js";
import { del, get, patch } from "../api.js";
import { announce, errorBox, formatDate, formatTime, h, mount, parseProgress, progressBar, statusBadge } from "../dom.js";
import { go, onLeave } from "../nav.js";
import { renderReport, reportOf } from "../report.js";

const REFRESH_MS = 2000;

/** The Face's preview clip (poster: its thumbnail), played from its capability URL. */
function preview(face) {
  const name = face.face_name || face.face_id;
  if (face.thumbnail_video_url) {
    const video = h("video", {
      id: "face-preview",
      src: face.thumbnail_video_url,
      poster: face.thumbnail_image_url || false,
      controls: true,
      muted: true,
      playsinline: true,
      preload: "metadata",
      "aria-label": `Preview of ${name}`,
    });
    video.muted = true;
    return h("div", { class: "preview" }, video);
  }
  if (face.thumbnail_image_url) {
    return h("div", { class: "preview" }, h("img", { src: face.thumbnail_image_url, alt: `Thumbnail of ${name}` }));
  }
  const text = face.status === "completed" ? "No preview." : "The preview appears when training completes.";
  return h("div", { class: "preview" }, h("p", { class: "muted" }, text));
}

function details(face) {
  const rows = [
    ["Face id", h("code", {}, face.face_id || face.replica_id)],
    ["Type", face.face_type === "system" ? "stock" : "yours"],
    ["Voice", face.voice_name || face.default_voice_id || ""],
    ["Created", formatDate(face.created_at)],
    ["Updated", formatDate(face.updated_at)],
    ["Model", face.model_name || ""],
  ];
  return h("dl", { class: "details" }, rows.filter(([, v]) => v).map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]));
}

function renameForm(face, onDone) {
  const input = h("input", { id: "rename-input", type: "text", value: face.face_name || "", required: true, maxlength: "100" });
  const error = h("p", { class: "form-error", role: "alert" });
  return h(
    "form",
    {
      class: "inline-form",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const name = input.value.trim();
        if (!name) return;
        try {
          await patch(`/v2/faces/${face.face_id}/name`, { face_name: name });
          announce("Renamed.");
          onDone();
        } catch (err) {
          error.textContent = `Could not rename: ${err.message}`;
        }
      },
    },
    h("label", { for: "rename-input" }, "Name"),
    input,
    h("button", { type: "submit" }, "Rename"),
    error,
  );
}

export function showFace(view, id) {
  let timer = null;
  let alive = true;
  let shownStatus = null;
  onLeave(() => {
    alive = false;
    clearTimeout(timer);
  });
  mount(view, h("h1", {}, "Face"), h("p", { class: "muted" }, "Loading…"));

  async function remove(face) {
    const hard = window.confirm(`Delete "${face.face_name}"?\n\nOK deletes it and every stored byte of the likeness.`);
    if (!hard) return;
    try {
      await del(`/v2/faces/${face.face_id}?hard=true`);
      announce("Face deleted.");
      go("#/library");
    } catch (err) {
      view.append(errorBox(`Could not delete: ${err.message}`));
    }
  }

  async function load() {
    clearTimeout(timer);
    let face;
    try {
      face = await get(`/v2/faces/${encodeURIComponent(id)}?verbose=true`);
    } catch (err) {
      if (!alive) return;
      mount(view, h("h1", {}, "Face"), errorBox(err.status === 404 ? "This Face does not exist." : err.message));
      return;
    }
    if (!alive) return;
    face.face_id = face.face_id || face.replica_id;
    const training = face.status === "started";
    const percent = parseProgress(face.training_progress);
    const statusLine = h(
      "div",
      { class: "face-status", id: "face-status", "aria-live": "polite", dataset: { status: face.status || "" } },
      statusBadge(face.status),
      training
        ? h("div", { class: "progress-row" }, progressBar(percent, "Training progress"), h("span", {}, face.training_progress || "queued"))
        : null,
      face.status === "error"
        ? errorBox([face.error_message || "Training failed.", face.error_id ? ` (${face.error_id})` : ""].join(""))
        : null,
    );
    // Re-render the whole page only when the status changes, so that focus and forms survive polling.
    if (shownStatus === face.status && training) {
      const old = view.querySelector("#face-status");
      if (old) old.replaceWith(statusLine);
    } else {
      const report = reportOf(face);
      mount(
        view,
        h(
          "div",
          { class: "page-head" },
          h("h1", {}, face.face_name || face.face_id),
          face.status === "completed"
            ? h("p", { class: "face-actions" }, faceActions(face, face.face_id).map((a, i) =>
                h("a", { class: i === 0 ? "button primary" : "button", href: a.href }, a.label)))
            : null,
        ),
        statusLine,
        h(
          "div",
          { class: "two-col" },
          h("section", { "aria-label": "Preview" }, h("h2", {}, "Preview"), preview(face)),
          h("section", { "aria-label": "Details" }, h("h2", {}, "Details"), details(face),
            face.face_type !== "system" ? renameForm(face, load) : null,
            face.face_type !== "system"
              ? h("button", { type: "button", class: "danger", onclick: () => remove(face) }, "Delete this Face")
              : null),
        ),
        report ? renderReport(report, { title: "Training checks" }) : h("p", { class: "muted" }, "No check report yet."),
        report && report.duration_s ? h("p", { class: "muted" }, `Source length ${formatTime(report.duration_s)}.`) : null,
      );
      shownStatus = face.status;
      if (!training) announce(`Face ${face.status}.`);
    }
    if (training) timer = setTimeout(load, REFRESH_MS);
  }
  load();
}
