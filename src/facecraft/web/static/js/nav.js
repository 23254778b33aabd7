// Shared navigation state, kept apart from app.js so that views do not import the entry point.

let cleanup = null;
let router = () => {};

/** Register what to undo (timers, object URLs) when the user leaves the current view. */
export function onLeave(fn) {
  cleanup = fn;
}

/** Run and forget the current view's cleanup. */
export function leave() {
  const fn = cleanup;
  cleanup = null;
  if (fn) fn();
}

export function setRouter(fn) {
  router = fn;
}

/** Re-render the current route (after sign-in, sign-out). */
export function refresh() {
  router();
}

/** Go to a hash route; re-renders even when the hash is already the same. */
export function go(hash) {
  if (window.location.hash === hash) router();
  else window.location.hash = hash;
}
