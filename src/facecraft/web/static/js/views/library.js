// The Face library: two tabs, the key's own Faces and the stock Faces every key can use, refreshed
// while any is training.

import { faceActions } from "../actions.js";
import { get } from "../api.js";
import { announce, errorBox, h, mount, parseProgress, progressBar, statusBadge } from "../dom.js";
import { onLeave } from "../nav.js";

const PAGE_SIZE = 24;
const REFRESH_MS = 2500;

/**
 * A Face's thumbnail: its image, else its muted preview video. Media URLs are capability links
 * (``/media/...``) that the browser loads without the API key.
 */
export function thumbnail(face, { className = "thumb" } = {}) {
  const image = face.thumbnail_image_url || face.thumbnail_url;
  if (image) return h("div", { class: className }, h("img", { src: image, alt: "", loading: "lazy" }));
  if (face.thumbnail_video_url) {
    const video = h("video", { src: face.thumbnail_video_url, muted: true, playsinline: true, preload: "metadata" });
    video.muted = true;
    return h("div", { class: className }, video);
  }
  return h("div", { class: `${className} thumb-empty`, "aria-hidden": "true" });
}

export function faceId(face) {
  return face.face_id || face.replica_id;
}

function faceCard(face) {
  const id = faceId(face);
  const percent = parseProgress(face.training_progress);
  return h(
    "li",
    { class: "face-card", dataset: { faceId: id, status: face.status || "" } },
    thumbnail(face),
    h(
      "div",
      { class: "face-card-body" },
      h("h3", {}, h("a", { href: `#/faces/${id}` }, face.face_name || face.replica_name || id)),
      h("p", {}, statusBadge(face.status), " ", h("span", { class: "muted" }, face.face_type === "system" ? "stock" : "")),
      face.status === "started"
        ? h(
            "div",
            { class: "progress-row" },
            progressBar(percent, `Training ${face.face_name || id}`),
            h("span", { class: "muted" }, face.training_progress || "queued"),
          )
        : null,
      face.status === "error" && face.error_message ? h("p", { class: "form-error" }, face.error_message) : null,
      face.status === "completed"
        ? h("p", { class: "face-actions" }, faceActions(face, id).map((a) => h("a", { class: "button", href: a.href }, a.label)))
        : null,
    ),
  );
}

const TABS = [
  { id: "user", label: "Your Faces", empty: "No Faces yet: create one from a one-minute video or a photo, or start from a stock Face." },
  { id: "system", label: "Stock", empty: "No stock Faces on this server: `facecraft stock build` and `facecraft stock add` install them." },
];
let currentTab = null; // kept while the portal is open; the first visit picks one

function tabList(selected, choose) {
  const buttons = TABS.map((tab) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        id: `tab-${tab.id}`,
        "aria-selected": String(tab.id === selected),
        "aria-controls": "library-panel",
        tabindex: tab.id === selected ? "0" : "-1",
        onclick: () => choose(tab.id),
        onkeydown: (ev) => {
          if (ev.key !== "ArrowRight" && ev.key !== "ArrowLeft") return;
          const next = TABS[(TABS.findIndex((t) => t.id === tab.id) + (ev.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length];
          choose(next.id, true);
        },
      },
      tab.label,
    ),
  );
  return h("div", { class: "tabs", role: "tablist", "aria-label": "Faces" }, buttons);
}

export function showLibrary(view) {
  let page = 0;
  let timer = null;
  let alive = true;
  let shown = "";
  const tabs = h("div", { class: "tabs-row" });
  const body = h("div", { class: "library-body", id: "library-panel", role: "tabpanel", "aria-busy": "true" },
    h("p", { class: "muted" }, "Loading Faces…"));
  mount(
    view,
    h("div", { class: "page-head" }, h("h1", {}, "Faces"), h("a", { class: "button primary", href: "#/create" }, "New Face")),
    tabs,
    body,
  );
  onLeave(() => {
    alive = false;
    clearTimeout(timer);
  });

  function choose(tab, focus = false) {
    currentTab = tab;
    page = 0;
    shown = "";
    mount(tabs, tabList(tab, choose));
    body.setAttribute("aria-labelledby", `tab-${tab}`);
    if (focus) document.getElementById(`tab-${tab}`)?.focus();
    load();
  }

  async function pick() {
    // A new user with no Face of their own starts on the stock Faces, when there are some.
    const count = (answer) => answer.total_count ?? (answer.data || []).length;
    try {
      const [own, stock] = await Promise.all([
        get("/v2/faces?face_type=user&limit=1"),
        get("/v2/faces?face_type=system&limit=1"),
      ]);
      return count(own) === 0 && count(stock) > 0 ? "system" : "user";
    } catch {
      return "user";
    }
  }

  async function load() {
    clearTimeout(timer);
    const tab = TABS.find((t) => t.id === currentTab);
    let data;
    try {
      data = await get(`/v2/faces?verbose=true&face_type=${tab.id}&limit=${PAGE_SIZE}&page=${page + 1}`);
    } catch (err) {
      if (!alive) return;
      mount(body, errorBox(`Could not load the Faces: ${err.message}`));
      body.setAttribute("aria-busy", "false");
      return;
    }
    if (!alive || tab.id !== currentTab) return;
    const faces = data.data || [];
    const total = data.total_count ?? faces.length;
    const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
    const training = faces.filter((f) => f.status === "started");
    const snapshot = JSON.stringify([tab.id, page, data]);
    if (snapshot === shown) {
      if (training.length) timer = setTimeout(load, REFRESH_MS);
      return;
    }
    shown = snapshot;
    // Polling re-renders the list: keep keyboard focus on the same link or button.
    const focusedHref = body.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    mount(
      body,
      h(
        "section",
        { "aria-label": tab.label },
        h("h2", { class: "visually-hidden" }, tab.label),
        faces.length ? h("ul", { class: "face-grid" }, faces.map(faceCard)) : h("p", { class: "muted" }, tab.empty),
      ),
      pages > 1
        ? h(
            "nav",
            { class: "pager", "aria-label": "Pages" },
            h("button", { type: "button", disabled: page === 0, onclick: () => { page -= 1; load(); } }, "Previous"),
            h("span", {}, `Page ${page + 1} of ${pages}`),
            h("button", { type: "button", disabled: page + 1 >= pages, onclick: () => { page += 1; load(); } }, "Next"),
          )
        : null,
      training.length ? h("p", { class: "muted", "aria-live": "polite" }, `${training.length} training; this list refreshes itself.`) : null,
    );
    body.setAttribute("aria-busy", "false");
    if (focusedHref) body.querySelector(`[href="${CSS.escape(focusedHref)}"]`)?.focus();
    if (training.length) timer = setTimeout(load, REFRESH_MS);
    else announce(`${total} ${tab.id === "system" ? "stock " : ""}Faces.`);
  }

  if (currentTab) choose(currentTab);
  else pick().then((tab) => { if (alive) choose(tab); });
}
