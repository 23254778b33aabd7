// Grab still frames from a local video file in the browser (<video> + <canvas> seek), so the
// check report can show the problem at its time without another request to the server.

const MAX_WIDTH = 320;

function once(target, event, timeoutMs) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${event}`));
    }, timeoutMs);
    const onEvent = () => {
      cleanup();
      resolve();
    };
    const onError = () => {
      cleanup();
      reject(new Error("the browser cannot decode this video"));
    };
    function cleanup() {
      clearTimeout(timer);
      target.removeEventListener(event, onEvent);
      target.removeEventListener("error", onError);
    }
    target.addEventListener(event, onEvent);
    target.addEventListener("error", onError);
  });
}

/**
 * A grabber over one File. `grab(seconds)` resolves to a <canvas> with the frame at that time;
 * seeks are serialised because one <video> element can only be at one place at a time.
 */
export class FrameGrabber {
  constructor(file) {
    this.url = URL.createObjectURL(file);
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.preload = "auto";
    this.video.playsInline = true;
    this.queue = Promise.resolve();
    this.ready = (async () => {
      const loaded = once(this.video, "loadeddata", 15000);
      this.video.src = this.url;
      await loaded;
    })();
    this.ready.catch(() => {});
  }

  grab(seconds) {
    const job = this.queue.then(() => this._grab(seconds));
    this.queue = job.catch(() => {});
    return job;
  }

  async _grab(seconds) {
    await this.ready;
    const v = this.video;
    const duration = Number.isFinite(v.duration) ? v.duration : seconds;
    const t = Math.max(0, Math.min(seconds, Math.max(0, duration - 0.05)));
    if (Math.abs(v.currentTime - t) > 1e-3) {
      const seeked = once(v, "seeked", 10000);
      v.currentTime = t;
      await seeked;
    }
    const scale = Math.min(1, MAX_WIDTH / (v.videoWidth || MAX_WIDTH));
    const canvas = document.createElement("canvas");
    canvas.width = Math.max(1, Math.round((v.videoWidth || MAX_WIDTH) * scale));
    canvas.height = Math.max(1, Math.round((v.videoHeight || MAX_WIDTH * 0.5625) * scale));
    canvas.getContext("2d").drawImage(v, 0, 0, canvas.width, canvas.height);
    canvas.dataset.time = String(t);
    return canvas;
  }

  close() {
    this.video.removeAttribute("src");
    this.video.load();
    URL.revokeObjectURL(this.url);
  }
}
