// Entry point: sign-in gate, hash routing, and the shared header.

import { UNAUTHORIZED_EVENT, clearKey, getKey } from "./api.js";
import { announce } from "./dom.js";
import { leave, setRouter } from "./nav.js";
import { showCreate } from "./views/create.js";
import { showFace } from "./views/face.js";
import { showLibrary } from "./views/library.js";
import { showSignIn } from "./views/signin.js";
import { showStudio, showVideo, showVideos } from "./views/studio.js";
import { showTalk } from "./views/talk.js";

const routes = [
  [/^#\/library$/, () => showLibrary],
  [/^#\/create$/, () => showCreate],
  [/^#\/faces\/([\w-]+)$/, (m) => (view) => showFace(view, m[1])],
  [/^#\/studio(?:\?face=([\w-]+))?$/, (m) => (view) => showStudio(view, m[1] || null)],
  [/^#\/videos$/, () => showVideos],
  [/^#\/videos\/([\w-]+)$/, (m) => (view) => showVideo(view, m[1])],
  [/^#\/talk\/([\w-]+)$/, (m) => (view) => showTalk(view, m[1])],
];

function updateChrome(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("account").hidden = !signedIn;
  const key = getKey();
  document.getElementById("account-key").textContent = signedIn ? `key …${key.slice(-4)}` : "";
  for (const link of document.querySelectorAll("#nav a")) {
    const current = window.location.hash.startsWith(`#/${link.dataset.route}`);
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function route() {
  leave();
  const view = document.getElementById("view");
  const signedIn = Boolean(getKey());
  updateChrome(signedIn);
  if (!signedIn) {
    showSignIn(view);
    return;
  }
  const hash = window.location.hash || "#/library";
  for (const [pattern, make] of routes) {
    const m = pattern.exec(hash);
    if (m) {
      make(m)(view);
      focusView(view);
      return;
    }
  }
  window.location.hash = "#/library";
}

function focusView(view) {
  // Move focus to the new page's heading so keyboard and screen-reader users land on it.
  const heading = view.querySelector("h1, h2");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}

document.getElementById("sign-out").addEventListener("click", () => {
  clearKey();
  announce("Signed out.");
  window.location.hash = "";
  route();
});

window.addEventListener(UNAUTHORIZED_EVENT, () => {
  if (!getKey()) return;
  clearKey();
  route();
  const error = document.getElementById("sign-in-error");
  if (error) error.textContent = "Your API key is no longer valid: sign in again.";
});

setRouter(route);
window.addEventListener("hashchange", route);
route();
