// Create a Face: upload a video (or photo), see the check report inline, then confirm training.

import { ApiError, get, post, upload, uploadIdOf } from "../api.js";
import { announce, errorBox, h, mount, progressBar } from "../dom.js";
import { FrameGrabber } from "../frames.js";
import { go, onLeave } from "../nav.js";
import { checkStatus, renderReport, reportOf, reportStatus } from "../report.js";

const VIDEO_TYPES = "video/mp4,video/webm,video/quicktime,.mp4,.webm,.mov";
const IMAGE_TYPES = "image/jpeg,image/png,.jpg,.jpeg,.png";
const MAX_UPLOAD_BYTES = 750 * 2 ** 20; // API.md: training videos up to 750 MB

/** base64 body of a File (without the data: prefix), for image-validation. */
function readBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new Error("cannot read the file"));
    reader.readAsDataURL(file);
  });
}

function defaultName(file) {
  return file.name.replace(/\.[^.]+$/, "").replace(/[_-]+/g, " ").trim().slice(0, 80) || "My Face";
}

export function showCreate(view) {
  let grabber = null;
  let uploadId = null;
  let report = null;
  let attempt = 0; // a newer file choice makes answers about older ones stale
  let autoName = "";
  let photoUrl = null;

  const kindVideo = h("input", { type: "radio", name: "kind", id: "kind-video", value: "video", checked: true });
  const kindPhoto = h("input", { type: "radio", name: "kind", id: "kind-photo", value: "photo" });
  const nameInput = h("input", { id: "face-name", name: "face-name", type: "text", required: true, maxlength: "100" });
  const fileInput = h("input", { id: "train-file", name: "train-file", type: "file", accept: VIDEO_TYPES, "aria-describedby": "train-file-help" });
  const fileHelp = h("p", { class: "help", id: "train-file-help" });
  // The stock voices come from GET /v2/voices; until they arrive (or if that fails) the default is offered.
  const voiceInput = h(
    "select",
    { id: "voice-name", name: "voice-name", "aria-describedby": "voice-help" },
    h("option", { value: "joe-us" }, "Joe (male, US)"),
  );
  const voiceRow = h(
    "div",
    { class: "field", hidden: true },
    h("label", { for: "voice-name" }, "Voice"),
    voiceInput,
    h("p", { class: "help", id: "voice-help" }, "A photo carries no voice: choose the stock voice this Face speaks with."),
  );
  get("/v2/voices")
    .then((answer) => {
      const voices = (answer.data || []).filter((v) => v.available);
      if (!voices.length) return;
      mount(
        voiceInput,
        voices.map((v) => h("option", { value: v.voice_id }, `${v.voice_name} (${v.gender}, ${v.accent}) · ${v.voice_id}`)),
      );
    })
    .catch(() => {});
  const status = h("div", { class: "upload-status", id: "upload-status", role: "status", "aria-live": "polite" });
  const reportBox = h("div", { id: "validation", class: "validation" });
  const trainButton = h("button", { type: "submit", id: "train-button", class: "primary", disabled: true }, "Train this Face");
  const trainHelp = h("p", { class: "help", id: "train-help" }, "Upload a file first: it is checked before training starts.");
  trainButton.setAttribute("aria-describedby", "train-help");
  const formError = h("div", { id: "create-error" });
  // The consent statement is missing (the only failing check): an operator of a deployment that allows it
  // may attest consent given outside the video; the server records it on the Face (and refuses it when
  // the deployment does not allow attestation).
  const attestBox = h("input", { type: "checkbox", id: "consent-attest", name: "consent-attest" });
  const attestRow = h(
    "div",
    { class: "field consent-attest", hidden: true },
    attestBox,
    h("label", { for: "consent-attest" }, "I attest that this person gave consent outside this video (recorded on the Face)"),
  );
  attestBox.addEventListener("change", () => updateTrain());

  function consentOnlyFailure(rep) {
    const failing = rep.checks.filter((c) => checkStatus(c) === "fail");
    return failing.length > 0 && failing.every((c) => c.id === "consent_phrase_mismatch");
  }

  function kind() {
    return kindPhoto.checked ? "photo" : "video";
  }

  function setHelp() {
    if (kind() === "video") {
      fileInput.accept = VIDEO_TYPES;
      fileHelp.textContent =
        "One continuous take, mp4 or webm, ≥ 25 fps: about 30 s speaking (teeth visible), then about 30 s listening.";
      voiceRow.hidden = true;
    } else {
      fileInput.accept = IMAGE_TYPES;
      fileHelp.textContent = "A JPG or PNG of at least 512×512: one adult, front-facing, head and shoulders, even light.";
      voiceRow.hidden = false;
    }
  }

  function reset() {
    attempt += 1;
    uploadId = null;
    report = null;
    if (grabber) grabber.close();
    grabber = null;
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = null;
    mount(reportBox);
    mount(status);
    mount(formError);
    updateTrain();
  }

  function updateTrain() {
    const consentOnly = Boolean(report && consentOnlyFailure(report));
    attestRow.hidden = !consentOnly;
    if (!consentOnly) attestBox.checked = false;
    const ok = Boolean(uploadId && report && (reportStatus(report) !== "fail" || (consentOnly && attestBox.checked)));
    trainButton.disabled = !ok;
    if (!uploadId && !report) trainHelp.textContent = "Upload a file first: it is checked before training starts.";
    else if (!report) trainHelp.textContent = "Waiting for the checks…";
    else if (!ok && consentOnly) trainHelp.textContent = "The video does not open with the consent statement.";
    else if (!ok) trainHelp.textContent = "Training is disabled because a check failed.";
    else trainHelp.textContent = "Ready: training starts on the server and takes a few minutes.";
  }

  async function validate(file, id, mine) {
    if (kind() === "video") {
      return post("/v2/faces/video-validation", { train_video_upload_id: id });
    }
    const imageBase64 = await readBase64(file);
    if (mine !== attempt) return null;
    return post("/v2/faces/image-validation", { imageBase64, mimeType: file.type || "image/jpeg" });
  }

  async function onFile() {
    reset();
    const file = fileInput.files && fileInput.files[0];
    if (!file) return;
    const mine = attempt;
    if (file.size > MAX_UPLOAD_BYTES) {
      mount(formError, errorBox(`${file.name} is ${Math.round(file.size / 2 ** 20)} MB: the limit is 750 MB.`));
      announce("The file is too large.");
      return;
    }
    // Name the Face after the file unless the user typed a name of their own.
    if (!nameInput.value.trim() || nameInput.value === autoName) {
      autoName = defaultName(file);
      nameInput.value = autoName;
    }
    if (kind() === "video") grabber = new FrameGrabber(file);
    const bar = progressBar(0, "Upload progress");
    const label = h("span", {}, `Uploading ${file.name}…`);
    mount(status, h("div", { class: "progress-row" }, bar, label));
    announce(`Uploading ${file.name}.`);
    let answer;
    try {
      const up = await upload(file, (fraction) => {
        bar.value = fraction * 100;
        bar.setAttribute("aria-valuetext", `${Math.round(fraction * 100)} percent`);
      });
      if (mine !== attempt) return;
      const id = uploadIdOf(up);
      if (!id) throw new ApiError(0, "the server did not return an upload id", up);
      mount(status, h("div", { class: "progress-row" }, progressBar(null, "Checking"), h("span", {}, "Checking the upload…")));
      announce("Upload done. Checking it.");
      answer = await validate(file, id, mine);
      if (mine !== attempt || answer === null) return;
      uploadId = id;
    } catch (err) {
      if (mine !== attempt) return;
      mount(status);
      // An error answer that carries a check report is shown as a report; any other as a sentence.
      const body = err.body && typeof err.body === "object" ? err.body : {};
      const asReport = reportOf(body);
      if (asReport) {
        report = asReport;
        mount(reportBox, renderReport(report, { grabber, title: "Upload checks" }));
      } else {
        mount(formError, errorBox(`The upload could not be checked: ${err.message}`));
      }
      announce("The upload could not be checked.");
      updateTrain();
      return;
    }
    report = reportOf(answer);
    mount(status);
    if (!report) {
      mount(formError, errorBox("The server answered without a check report."));
      updateTrain();
      return;
    }
    const verdict = reportStatus(report);
    const title = kind() === "video" ? "Video checks" : "Photo checks";
    if (kind() === "photo") {
      photoUrl = URL.createObjectURL(file);
      mount(
        reportBox,
        h("figure", { class: "photo-preview" }, h("img", { src: photoUrl, alt: `The chosen photo, ${file.name}` })),
        renderReport(report, { title }),
      );
    } else {
      mount(reportBox, renderReport(report, { grabber, title }));
    }
    announce(verdict === "fail" ? "A check failed: this file cannot be used." : "Checks done: you can train this Face.");
    updateTrain();
  }

  async function onTrain(ev) {
    ev.preventDefault();
    if (trainButton.disabled) return;
    const name = nameInput.value.trim();
    if (!name) {
      mount(formError, errorBox("Give the Face a name."));
      nameInput.focus();
      return;
    }
    const body = { face_name: name };
    if (kind() === "video") body.train_video_upload_id = uploadId;
    if (kind() === "video" && attestBox.checked) body.consent_attested = true;
    else {
      body.train_image_upload_id = uploadId;
      body.voice_name = voiceInput.value || "joe-us";
    }
    trainButton.disabled = true;
    trainButton.textContent = "Starting…";
    try {
      const created = await post("/v2/faces", body);
      const id = created.face_id || created.replica_id;
      announce("Training started.");
      go(`#/faces/${id}`);
    } catch (err) {
      mount(formError, errorBox(`Training could not start: ${err.message}`));
      trainButton.textContent = "Train this Face";
      updateTrain();
    }
  }

  kindVideo.addEventListener("change", () => { setHelp(); fileInput.value = ""; reset(); });
  kindPhoto.addEventListener("change", () => { setHelp(); fileInput.value = ""; reset(); });
  fileInput.addEventListener("change", onFile);
  setHelp();

  const form = h(
    "form",
    { class: "card", id: "create-form", novalidate: true, onsubmit: onTrain },
    h(
      "fieldset",
      { class: "kind" },
      h("legend", {}, "Train from"),
      h("label", { for: "kind-video" }, kindVideo, " a one-minute video"),
      h("label", { for: "kind-photo" }, kindPhoto, " a photo"),
    ),
    h("div", { class: "field" }, h("label", { for: "face-name" }, "Face name"), nameInput),
    voiceRow,
    h("div", { class: "field" }, h("label", { for: "train-file" }, "Training file"), fileInput, fileHelp),
    status,
    reportBox,
    formError,
    attestRow,
    h("div", { class: "actions" }, trainButton, trainHelp),
  );
  mount(view, h("h1", {}, "New Face"), form);
  onLeave(() => {
    attempt += 1;
    if (grabber) grabber.close();
    if (photoUrl) URL.revokeObjectURL(photoUrl);
  });
}
