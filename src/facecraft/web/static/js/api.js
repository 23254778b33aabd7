// The portal's only way to the server: the public /v2 API with the signed-in x-api-key.

const KEY_STORAGE = "facecraft.apiKey";

/** Fired on window when a request with the stored key is refused with 401. */
export const UNAUTHORIZED_EVENT = "facecraft:unauthorized";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function getKey() {
  return localStorage.getItem(KEY_STORAGE) || "";
}

export function setKey(key) {
  localStorage.setItem(KEY_STORAGE, key);
}

export function clearKey() {
  localStorage.removeItem(KEY_STORAGE);
}

/** Human text of an API error body: {error}, {message} or FastAPI's {detail}. */
function errorText(status, body) {
  if (body && typeof body === "object") {
    if (typeof body.error === "string") return body.error;
    if (typeof body.message === "string") return body.message;
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
    }
  }
  if (typeof body === "string" && body) return body;
  return `request failed (HTTP ${status})`;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** fetch + JSON with the API key; throws ApiError on any non-2xx answer. */
export async function request(method, path, body, { key } = {}) {
  const headers = { "x-api-key": key ?? getKey() };
  const init = { method, headers };
  if (body !== undefined) {
    headers["content-type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, `cannot reach the server (${err.message})`, null);
  }
  const data = await readBody(response);
  if (response.status === 401 && key === undefined) {
    // The stored key stopped working (revoked): the app signs the user out.
    window.dispatchEvent(new CustomEvent(UNAUTHORIZED_EVENT));
  }
  if (!response.ok) throw new ApiError(response.status, errorText(response.status, data), data);
  return data;
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body, opts);
export const patch = (path, body, opts) => request("PATCH", path, body, opts);
export const del = (path, opts) => request("DELETE", path, undefined, opts);

/** Check a key by asking for one Face; resolves true/false, throws on other failures. */
export async function verifyKey(key) {
  try {
    await get("/v2/faces?limit=1", { key });
    return true;
  } catch (err) {
    if (err.status === 401 || err.status === 403) return false;
    throw err;
  }
}

/** The id in an upload answer, whatever the exact field name the server uses. */
export function uploadIdOf(data) {
  if (!data || typeof data !== "object") return null;
  return data.upload_id ?? data.id ?? data.uploadId ?? null;
}

/**
 * POST /v2/uploads (multipart, field "file") with progress events, via XMLHttpRequest because
 * fetch cannot report upload progress. onProgress(fraction 0..1).
 */
export function upload(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/v2/uploads");
    xhr.setRequestHeader("x-api-key", getKey());
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (ev) => {
      if (ev.lengthComputable && onProgress) onProgress(ev.loaded / ev.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = xhr.responseText;
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, errorText(xhr.status, data), data));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "upload failed: network error", null)));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "upload cancelled", null)));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
}
