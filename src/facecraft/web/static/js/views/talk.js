// "Talk to this Face": a live conversation in echo mode, started with the signed-in key, then the hosted
// call page (conversation_url) in this tab. Registered as a Face action, so every ready Face's card and
// page (the Stock tab's included) offer it.

import { registerFaceAction } from "../actions.js";
import { post } from "../api.js";
import { errorBox, h, mount } from "../dom.js";
import { onLeave } from "../nav.js";

registerFaceAction({
  label: "Talk to this Face",
  href: (face) => `#/talk/${encodeURIComponent(face.face_id || face.replica_id)}`,
});

export function showTalk(view, faceId) {
  let alive = true;
  onLeave(() => {
    alive = false;
  });
  mount(view, h("h1", {}, "Starting a conversation"), h("p", { class: "muted", role: "status" }, "Starting the Face's live session…"));
  post("/v2/conversations", { face_id: faceId, conversation_name: "Portal call" })
    .then((conversation) => {
      if (alive) window.location.assign(conversation.conversation_url);
    })
    .catch((err) => {
      if (!alive) return;
      mount(
        view,
        h("h1", {}, "Could not start a conversation"),
        errorBox(err.message),
        h("p", {}, h("a", { href: `#/faces/${faceId}` }, "Back to the Face")),
      );
    });
}
