// The hosted call page: joins a conversation over WebRTC with the browser's own RTCPeerConnection.
//
// Signalling follows pipecat's SmallWebRTC client: transceivers audio then video (in that order), a data
// channel created here (the session's interactions events arrive on it; "ping" each second tells the
// session this participant is still there), the offer POSTed once ICE gathering is done to the
// conversation's `/offer` (the URL's token is the only credential). A session's request to renegotiate is
// not followed: an offer replaces the call in progress, and the Face's stream needs no renegotiation.
// Captions are the Face's `conversation.utterance(.streaming)` events.

const config = JSON.parse(document.getElementById("call-config").textContent);
const $ = (id) => document.getElementById(id);
const video = $("face-video");
const captions = $("captions");
const statusLine = $("call-status");
const joinButton = $("join");
const muteButton = $("mute");
const leaveButton = $("leave");
const playButton = $("play");

const PING_MS = 1000;
const ICE_GATHER_MS = 4000;
const CAPTION_HOLD_MS = 4000;

// State the page exposes for people debugging a call (and for the browser tests).
const call = { state: "idle", pc: null, pcId: null, events: [], captions: [], caption: "" };
window.facecraftCall = call;

let localStream = null;
let channel = null;
let pingTimer = null;
let captionTimer = null;
const remote = new MediaStream();

function setStatus(text, state) {
  statusLine.textContent = text;
  if (state) {
    call.state = state;
    document.body.dataset.callState = state;
  }
}

function show(button, visible) {
  button.hidden = !visible;
}

async function postJSON(url, body) {
  const response = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const message = (data && (data.error || data.message)) || `HTTP ${response.status}`;
    const error = new Error(message);
    error.status = response.status;
    throw error;
  }
  return data;
}

function iceGatheringDone(pc) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ICE_GATHER_MS); // send what was gathered so far
    pc.addEventListener("icegatheringstatechange", () => {
      if (pc.iceGatheringState === "complete") {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

async function negotiate(pc) {
  const offer = await pc.createOffer();
  await pc.setLocalDescription(offer);
  await iceGatheringDone(pc);
  const body = { sdp: pc.localDescription.sdp, type: pc.localDescription.type };
  const answer = await postJSON(config.offer_url, body);
  call.pcId = answer.pc_id || call.pcId;
  await pc.setRemoteDescription({ type: answer.type, sdp: answer.sdp });
}

// --- captions and events ---------------------------------------------------------------------------

function showCaption(text, final) {
  clearTimeout(captionTimer);
  call.caption = text;
  if (config.captions) captions.textContent = text;
  if (final) {
    call.captions.push(text);
    captionTimer = setTimeout(() => {
      captions.textContent = "";
    }, CAPTION_HOLD_MS);
  }
}

const streaming = new Map(); // inference_id -> text so far

function onEvent(message) {
  if (!message || typeof message !== "object") return;
  if (message.type === "signalling") return; // see the note at the top: no renegotiation
  if (message.message_type !== "conversation") return;
  call.events.push(message);
  const props = message.properties || {};
  const role = props.role || "replica";
  const text = props.speech ?? props.text ?? "";
  switch (message.event_type) {
    case "conversation.utterance.streaming": {
      if (role !== "replica") return;
      const key = props.inference_id || message.inference_id || "";
      const sofar = streaming.get(key) || "";
      // Chunks or the text so far: either way the caption shows the sentence as it grows.
      const next = text.startsWith(sofar) ? text : `${sofar}${sofar && !/\s$/.test(sofar) ? " " : ""}${text}`;
      streaming.set(key, next);
      showCaption(next, false);
      break;
    }
    case "conversation.utterance":
      if (role !== "replica" || !text) return;
      streaming.delete(props.inference_id || message.inference_id || "");
      showCaption(text, true);
      break;
    case "conversation.replica.stopped_speaking": {
      // The turn is over: its caption stays a moment, then fades.
      const key = props.inference_id || message.inference_id || "";
      const said = streaming.get(key);
      streaming.delete(key);
      if (said) showCaption(said, true);
      break;
    }
    case "conversation.replica_interrupted":
      streaming.clear();
      showCaption("", false);
      break;
    default:
      break;
  }
}

// --- joining and leaving -----------------------------------------------------------------------------

async function microphone(withCamera) {
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: withCamera });
  } catch (err) {
    if (withCamera) {
      try {
        return await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      } catch {
        // fall through: listen only
      }
    }
    setStatus(`No microphone (${err.name || err.message}): you can watch and listen, the Face will not hear you.`);
    return null;
  }
}

async function playRemote() {
  try {
    await video.play();
    show(playButton, false);
  } catch {
    show(playButton, true); // a browser that wants one more click before it plays sound
  }
}

async function join() {
  joinButton.disabled = true;
  $("camera").disabled = true;
  setStatus("Asking for your microphone…", "starting");
  localStream = await microphone($("camera").checked);
  const pc = new RTCPeerConnection({ iceServers: config.ice_servers || [] });
  call.pc = pc;
  const audioTrack = localStream ? localStream.getAudioTracks()[0] : null;
  const cameraTrack = localStream ? localStream.getVideoTracks()[0] : null;
  if (audioTrack) pc.addTransceiver(audioTrack, { direction: "sendrecv", streams: [localStream] });
  else pc.addTransceiver("audio", { direction: "recvonly" });
  if (cameraTrack) pc.addTransceiver(cameraTrack, { direction: "sendrecv", streams: [localStream] });
  else pc.addTransceiver("video", { direction: "recvonly" });

  channel = pc.createDataChannel("interactions", { ordered: true });
  channel.addEventListener("open", () => {
    pingTimer = setInterval(() => {
      if (channel.readyState === "open") channel.send(`ping: ${Date.now()}`);
    }, PING_MS);
  });
  channel.addEventListener("close", () => {
    // The session closed the call (ended through the API, a timeout, or the server stopping).
    if (call.state === "connected") ended("The call has ended.");
  });
  channel.addEventListener("message", (ev) => {
    if (typeof ev.data !== "string") return;
    try {
      onEvent(JSON.parse(ev.data));
    } catch {
      // not JSON: nothing the page shows
    }
  });

  pc.addEventListener("track", (ev) => {
    remote.addTrack(ev.track);
    if (video.srcObject !== remote) video.srcObject = remote;
    playRemote();
  });
  pc.addEventListener("connectionstatechange", () => {
    if (pc.connectionState === "connected") setStatus(`Connected: ${config.face_name} is listening.`, "connected");
    else if (pc.connectionState === "failed") ended("The connection failed.");
    else if (pc.connectionState === "closed" && call.state !== "left") ended("The call has ended.");
  });

  setStatus("Connecting…", "connecting");
  try {
    await negotiate(pc);
  } catch (err) {
    ended(err.status === 409 || err.status === 404 ? "This call has ended." : `Could not connect: ${err.message}`);
    return;
  }
  show(joinButton, false);
  show($("camera").parentElement, false);
  show(muteButton, Boolean(audioTrack));
  show(leaveButton, true);
}

function hangUp() {
  clearInterval(pingTimer);
  if (channel) channel.close();
  if (call.pc) call.pc.close();
  if (localStream) for (const track of localStream.getTracks()) track.stop();
}

function ended(text) {
  if (call.state === "ended" || call.state === "left") return;
  hangUp();
  setStatus(text, "ended");
  show(muteButton, false);
  show(leaveButton, false);
  show(playButton, false);
  show(joinButton, false);
}

async function leave() {
  leaveButton.disabled = true;
  call.state = "left";
  hangUp();
  try {
    await postJSON(config.leave_url, {});
    setStatus("You left the call.", "left");
  } catch (err) {
    setStatus(`You left the call (the server did not confirm: ${err.message}).`, "left");
  }
  show(muteButton, false);
  show(leaveButton, false);
}

function toggleMute() {
  const track = localStream && localStream.getAudioTracks()[0];
  if (!track) return;
  track.enabled = !track.enabled;
  const muted = !track.enabled;
  muteButton.setAttribute("aria-pressed", String(muted));
  muteButton.textContent = muted ? "Unmute" : "Mute";
  setStatus(muted ? "You are muted." : `Connected: ${config.face_name} can hear you.`);
}

if (config.audio_only) {
  video.hidden = true;
  $("audio-only-note").hidden = false;
} else if (config.poster) {
  video.poster = config.poster;
}
if (!window.RTCPeerConnection) {
  setStatus("This browser cannot make WebRTC calls.", "unsupported");
  joinButton.disabled = true;
}
joinButton.addEventListener("click", () => {
  join().catch((err) => ended(`Could not start the call: ${err.message}`));
});
muteButton.addEventListener("click", toggleMute);
leaveButton.addEventListener("click", leave);
playButton.addEventListener("click", playRemote);
