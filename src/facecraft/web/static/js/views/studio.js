// Video studio: pick a completed Face, give a script or an audio file, follow the render, play it.

import { ApiError, del, get, post, upload, uploadIdOf } from "../api.js";
import { announce, errorBox, formatDate, h, mount, parseProgress, progressBar, statusBadge } from "../dom.js";
import { go, onLeave } from "../nav.js";
import { faceId } from "./library.js";

const REFRESH_MS = 1500;
const AUDIO_TYPES = "audio/wav,audio/x-wav,audio/mpeg,.wav,.mp3";
// reference/API.md "Emotions".
const PREVIEW_TEXT = "Hello! This is how I look and sound right now.";
const EMOTIONS = ["neutral", "angry", "excited", "elated", "content", "sad", "dejected", "scared", "contempt", "disgusted", "surprised"];

/** The first sentence of a script without its tags (at most 160 characters), for a short preview. */
function firstSentence(text) {
  const plain = text.replace(/<\s*\/?\s*emotion\b[^<>]*>/gi, " ").replace(/\s+/g, " ").trim();
  const match = plain.match(/^.*?[.!?](\s|$)/);
  const sentence = (match ? match[0] : plain).trim();
  return sentence.length <= 160 ? sentence : "";
}

/** Every completed Face the key can use (own and stock), following the pages. */
async function completedFaces() {
  const faces = [];
  for (let page = 1; page <= 20; page += 1) {
    const data = await get(`/v2/faces?verbose=true&limit=100&page=${page}`);
    const batch = data.data || [];
    faces.push(...batch);
    if (!batch.length || faces.length >= (data.total_count ?? faces.length)) break;
  }
  return faces.filter((f) => f.status === "completed");
}

export function showStudio(view, preselected) {
  let alive = true;
  onLeave(() => {
    alive = false;
  });
  const select = h("select", { id: "studio-face", name: "face", required: true }, h("option", { value: "" }, "Loading Faces…"));
  const nameInput = h("input", { id: "video-name", type: "text", maxlength: "100", placeholder: "optional" });
  const scriptMode = h("input", { type: "radio", name: "source", id: "source-script", value: "script", checked: true });
  const audioMode = h("input", { type: "radio", name: "source", id: "source-audio", value: "audio" });
  const script = h("textarea", { id: "script", name: "script", rows: "6", maxlength: "20000", "aria-describedby": "script-help" });
  const emotion = h("select", { id: "emotion", "aria-describedby": "emotion-help" }, EMOTIONS.map((e) => h("option", { value: e }, e)));
  const intensity = h("input", { id: "intensity", type: "range", min: "0", max: "1", step: "0.1", value: "1", "aria-describedby": "emotion-help" });
  const intensityShown = h("output", { for: "intensity", id: "intensity-value" }, "1.0");
  intensity.addEventListener("input", () => { intensityShown.textContent = Number(intensity.value).toFixed(1); });
  const level = () => Math.round(Number(intensity.value) * 10) / 10;
  const tagFor = (name, k) => (k === 1 ? `<emotion value="${name}"/>` : `<emotion value="${name}" intensity="${k}"/>`);
  const insertEmotion = () => {
    // Insert the tag at the cursor: the emotion holds from that point of the script on.
    const tag = `${tagFor(emotion.value, level())} `;
    const at = script.selectionStart ?? script.value.length;
    script.setRangeText(tag, at, script.selectionEnd ?? at, "end");
    script.focus();
  };
  const previewBox = h("div", { class: "preview", id: "emotion-preview", "aria-live": "polite" });
  // The Face picked, or null after saying so (shared by Preview and Create).
  function chosenFace() {
    if (select.value) return select.value;
    mount(error, errorBox("Pick a Face."));
    select.focus();
    return null;
  }
  const previewButton = h("button", { type: "button", id: "preview-button" }, "Preview");
  let previewId = null;
  let previewTimer = null;
  onLeave(() => clearTimeout(previewTimer));
  async function preview() {
    // A real render, kept short: the script's first sentence (or a greeting) with the chosen emotion.
    mount(error);
    const face = chosenFace();
    if (!face) return;
    clearTimeout(previewTimer);
    previewButton.disabled = true;
    const name = emotion.value;
    const k = level();
    const said = firstSentence(script.value) || PREVIEW_TEXT;
    mount(previewBox, h("p", { class: "muted" }, `Rendering a preview: ${name} at ${k.toFixed(1)}…`));
    try {
      if (previewId) del(`/v2/videos/${previewId}`).catch(() => {}); // the previous preview is not kept
      const created = await post("/v2/videos", {
        face_id: face, video_name: `Preview: ${name} ${k.toFixed(1)}`, script: `${tagFor(name, k)} ${said}`,
      });
      previewId = created.video_id;
      const poll = async () => {
        if (!alive) return;
        const video = await get(`/v2/videos/${encodeURIComponent(created.video_id)}`);
        if (video.status === "ready") {
          previewButton.disabled = false;
          mount(previewBox, h("video", { id: "preview-video", src: video.download_url, controls: true, autoplay: true, muted: true, playsinline: true, "aria-label": `Preview: ${name} at ${k.toFixed(1)}` }));
          announce("Preview ready.");
        } else if (video.status === "error" || video.status === "deleted") {
          previewButton.disabled = false;
          mount(previewBox, errorBox(video.status_details || "The preview failed."));
        } else {
          mount(previewBox, h("div", { class: "progress-row" }, progressBar(parseProgress(video.generation_progress), "Preview progress"), h("span", {}, `Rendering a preview: ${name} at ${k.toFixed(1)}…`)));
          previewTimer = setTimeout(() => poll().catch(failed), REFRESH_MS);
        }
      };
      const failed = (err) => {
        previewButton.disabled = false;
        mount(previewBox, errorBox(err.message));
      };
      await poll().catch(failed);
    } catch (err) {
      previewButton.disabled = false;
      mount(previewBox);
      mount(error, errorBox(err.message));
    }
  }
  previewButton.addEventListener("click", preview);
  const emotionRow = h(
    "div",
    { class: "field" },
    h(
      "div",
      { class: "inline-form" },
      h("label", { for: "emotion" }, "Emotion"),
      emotion,
      h("label", { for: "intensity", class: "visually-hidden" }, "Intensity"),
      h("span", { class: "intensity" }, h("span", { "aria-hidden": "true" }, "Intensity"), intensity, intensityShown),
      previewButton,
    ),
    h("p", { class: "help", id: "emotion-help" }, "Shown and spoken from the start; emotion tags in the script take over from where they stand. Preview renders a short clip."),
    previewBox,
  );
  const scriptRow = h(
    "div",
    { class: "field" },
    h("label", { for: "script" }, "Script"),
    script,
    h("p", { class: "help", id: "script-help" }, "What the Face says. Emotion tags like ", h("code", {}, '<emotion value="excited"/>'), " switch emotion from that point."),
    h("div", { class: "inline-form" }, h("button", { type: "button", id: "insert-emotion", onclick: insertEmotion }, "Insert emotion tag")),
  );
  const audioInput = h("input", { id: "audio-file", type: "file", accept: AUDIO_TYPES });
  const audioRow = h(
    "div",
    { class: "field", hidden: true },
    h("label", { for: "audio-file" }, "Audio (wav or mp3, 3 s to 10 min)"),
    audioInput,
  );
  const status = h("div", { role: "status", "aria-live": "polite", id: "studio-status" });
  const error = h("div", { id: "studio-error" });
  const submit = h("button", { type: "submit", class: "primary", id: "render-button" }, "Render video");

  const toggle = () => {
    scriptRow.hidden = !scriptMode.checked;
    audioRow.hidden = scriptMode.checked;
  };
  scriptMode.addEventListener("change", toggle);
  audioMode.addEventListener("change", toggle);

  async function onSubmit(ev) {
    ev.preventDefault();
    mount(error);
    const face = chosenFace();
    if (!face) return;
    const body = { face_id: face };
    if (nameInput.value.trim()) body.video_name = nameInput.value.trim();
    if (emotion.value !== "neutral") {
      body.emotion = emotion.value; // the request's default: shown (and spoken) until the first tag
      body.emotion_intensity = level();
    }
    submit.disabled = true;
    try {
      if (scriptMode.checked) {
        if (!script.value.trim()) throw new ApiError(0, "Type a script.");
        body.script = script.value;
      } else {
        const file = audioInput.files && audioInput.files[0];
        if (!file) throw new ApiError(0, "Choose an audio file.");
        const bar = progressBar(0, "Audio upload progress");
        mount(status, h("div", { class: "progress-row" }, bar, h("span", {}, `Uploading ${file.name}…`)));
        const up = await upload(file, (f) => { bar.value = f * 100; });
        body.audio_upload_id = uploadIdOf(up);
      }
      const created = await post("/v2/videos", body);
      announce("Video queued.");
      go(`#/videos/${created.video_id}`);
    } catch (err) {
      mount(status);
      mount(error, errorBox(err.message));
      submit.disabled = false;
    }
  }

  const form = h(
    "form",
    { class: "card", id: "studio-form", novalidate: true, onsubmit: onSubmit },
    h("div", { class: "field" }, h("label", { for: "studio-face" }, "Face"), select),
    h("div", { class: "field" }, h("label", { for: "video-name" }, "Video name"), nameInput),
    emotionRow,
    h(
      "fieldset",
      { class: "kind" },
      h("legend", {}, "The Face says"),
      h("label", { for: "source-script" }, scriptMode, " a script"),
      h("label", { for: "source-audio" }, audioMode, " an audio file"),
    ),
    scriptRow,
    audioRow,
    status,
    error,
    h("div", { class: "actions" }, submit),
  );
  mount(view, h("h1", {}, "Video studio"), form);

  completedFaces()
    .then((faces) => {
      if (!alive) return;
      if (!faces.length) {
        mount(select, h("option", { value: "" }, "No completed Face yet"));
        submit.disabled = true;
        return;
      }
      mount(
        select,
        h("option", { value: "" }, "Choose a Face…"),
        faces.map((f) => h("option", { value: faceId(f), selected: faceId(f) === preselected }, f.face_name || faceId(f))),
      );
      if (preselected && faces.some((f) => faceId(f) === preselected)) select.value = preselected;
    })
    .catch((err) => alive && mount(error, errorBox(`Could not load the Faces: ${err.message}`)));
}

/** One video: progress while generating, then a player and a download link. */
export function showVideo(view, id) {
  let alive = true;
  let timer = null;
  onLeave(() => {
    alive = false;
    clearTimeout(timer);
  });
  const statusBox = h("div", { id: "video-status", "aria-live": "polite" }, h("p", { class: "muted" }, "Loading…"));
  const playerBox = h("div", { id: "player" });
  const title = h("h1", {}, "Video");
  mount(view, title, statusBox, playerBox);

  function showPlayer(video) {
    const src = video.download_url;
    const fileName = `${(video.video_name || video.video_id).replace(/[^\w.-]+/g, "_")}.mp4`;
    mount(
      playerBox,
      h("video", {
        id: "result-video",
        src,
        controls: true,
        playsinline: true,
        preload: "auto",
        "aria-label": `Video ${video.video_name || video.video_id}`,
        onerror: () => playerBox.append(errorBox("This browser could not play the video; download it instead.")),
      }),
      h(
        "p",
        { class: "actions" },
        h("a", { class: "button primary", href: src, download: fileName, id: "download-link" }, "Download mp4"),
        video.hosted_url ? h("a", { class: "button", href: video.hosted_url, target: "_blank", rel: "noopener" }, "Hosted page") : null,
      ),
      video.data && video.data.script ? h("section", { "aria-label": "Script" }, h("h2", {}, "Script"), h("p", { class: "script-text" }, video.data.script)) : null,
    );
  }

  async function load() {
    clearTimeout(timer);
    let video;
    try {
      video = await get(`/v2/videos/${encodeURIComponent(id)}`);
    } catch (err) {
      if (alive) mount(statusBox, errorBox(err.status === 404 ? "This video does not exist." : err.message));
      return;
    }
    if (!alive) return;
    title.textContent = video.video_name || video.video_id;
    const working = video.status === "queued" || video.status === "generating";
    const percent = parseProgress(video.generation_progress);
    mount(
      statusBox,
      h("p", { dataset: { status: video.status } }, statusBadge(video.status), " ", h("span", { class: "muted" }, video.status_details || "")),
      working
        ? h("div", { class: "progress-row" }, progressBar(percent, "Render progress"), h("span", {}, video.generation_progress || "waiting"))
        : null,
      video.status === "error" ? errorBox(video.status_details || video.error_message || "The render failed.") : null,
    );
    if (working) {
      timer = setTimeout(load, REFRESH_MS);
    } else if (video.status === "ready") {
      announce("Video ready.");
      showPlayer(video);
    }
  }
  load();
}

function videoRow(video, onDelete) {
  const name = video.video_name || video.video_id;
  const working = video.status === "queued" || video.status === "generating";
  return h(
    "tr",
    { dataset: { videoId: video.video_id, status: video.status || "" } },
    h("td", {}, h("a", { href: `#/videos/${video.video_id}` }, name)),
    h("td", {}, statusBadge(video.status), " ", working ? video.generation_progress || "" : ""),
    h("td", {}, formatDate(video.created_at)),
    h("td", {}, h("button", { type: "button", class: "link-button", "aria-label": `Delete ${name}`, onclick: () => onDelete(video) }, "Delete")),
  );
}

/** The key's videos with their status; refreshed while any is still rendering. */
export function showVideos(view) {
  let alive = true;
  let timer = null;
  onLeave(() => {
    alive = false;
    clearTimeout(timer);
  });
  const list = h("div", {}, h("p", { class: "muted" }, "Loading…"));
  mount(view, h("div", { class: "page-head" }, h("h1", {}, "Videos"), h("a", { class: "button primary", href: "#/studio" }, "New video")), list);

  async function remove(video) {
    if (!window.confirm(`Delete "${video.video_name || video.video_id}"?`)) return;
    try {
      await del(`/v2/videos/${video.video_id}`);
      announce("Video deleted.");
      load();
    } catch (err) {
      list.prepend(errorBox(`Could not delete: ${err.message}`));
    }
  }

  async function load() {
    clearTimeout(timer);
    let data;
    try {
      data = await get("/v2/videos?limit=100");
    } catch (err) {
      if (alive) mount(list, errorBox(`Could not load the videos: ${err.message}`));
      return;
    }
    if (!alive) return;
    const videos = (data.data || []).filter((v) => v.status !== "deleted");
    const header = h("tr", {}, ["Video", "Status", "Created"].map((t) => h("th", { scope: "col" }, t)),
      h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")));
    mount(
      list,
      videos.length
        ? h("table", { class: "table" }, h("thead", {}, header), h("tbody", {}, videos.map((v) => videoRow(v, remove))))
        : h("p", { class: "muted" }, "No videos yet."),
    );
    if (videos.some((v) => v.status === "queued" || v.status === "generating")) timer = setTimeout(load, REFRESH_MS * 2);
  }
  load();
}
