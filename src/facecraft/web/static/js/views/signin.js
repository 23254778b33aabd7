// Sign-in: the user pastes an API key (from `facecraft keys create`); it is checked, then kept in localStorage.

import { setKey, verifyKey } from "../api.js";
import { announce, h, mount } from "../dom.js";
import { refresh } from "../nav.js";

export function showSignIn(view) {
  const input = h("input", {
    id: "api-key",
    name: "api-key",
    type: "password",
    autocomplete: "current-password",
    required: true,
    spellcheck: "false",
    "aria-describedby": "api-key-help",
  });
  const error = h("p", { class: "form-error", id: "sign-in-error", role: "alert" });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    { class: "card narrow", id: "sign-in-form", novalidate: true },
    h("label", { for: "api-key" }, "API key"),
    input,
    h(
      "p",
      { class: "help", id: "api-key-help" },
      "Create one on the server with ",
      h("code", {}, "facecraft keys create"),
      ". It is kept in this browser until you sign out.",
    ),
    error,
    button,
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const key = input.value.trim();
    error.textContent = "";
    if (!key) {
      error.textContent = "Enter your API key.";
      input.focus();
      return;
    }
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      if (await verifyKey(key)) {
        setKey(key);
        announce("Signed in.");
        if (!window.location.hash || window.location.hash === "#") window.location.hash = "#/library";
        refresh();
        return;
      }
      error.textContent = "This API key is not valid.";
    } catch (err) {
      error.textContent = `Could not sign in: ${err.message}`;
    }
    button.disabled = false;
    button.textContent = "Sign in";
    input.focus();
  });
  mount(view, h("h1", {}, "Sign in to the Maker portal"), form);
  input.focus();
}
