// What a person can do with a ready Face, shown on its card. Every Face can make a video; a feature
// that adds an action (live calls: "Talk to this Face", views/talk.js) registers it here instead of the
// cards growing a button that does nothing.

const extra = [];

/**
 * Add an action to every ready Face's card: `label`, `href(face)` and, optionally, `when(face)`
 * (a Face the action applies to). Called once at start-up by the module that owns the feature.
 */
export function registerFaceAction(action) {
  extra.push(action);
}

/** The actions of a ready Face: [{label, href}], "Make a video" first. */
export function faceActions(face, id) {
  const actions = [{ label: "Make a video", href: `#/studio?face=${id}` }];
  for (const action of extra) {
    if (!action.when || action.when(face)) actions.push({ label: action.label, href: action.href(face) });
  }
  return actions;
}
