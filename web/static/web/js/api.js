// The public REST API and AI routes, called with the session cookie (the
// server keeps the tokens) and the CSRF token for unsafe methods.
import { EventSourceParserStream } from "../vendor/eventsource-parser/dist/stream.js";
import { fieldErrors, humanError } from "./errors.js";

const API = document.body.dataset.api || "/api/v1/";
const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

export class ApiError extends Error {
  constructor({ status, data = {}, retryAfter = null }) {
    const code = data.code || "";
    const detail = data.detail || "";
    const fields = status === 400 ? fieldErrors(data) : "";
    super(humanError({ status, code, detail, retryAfter }) + (fields ? ` (${fields})` : ""));
    this.status = status;
    this.code = code;
    this.data = data;
    this.retryAfter = retryAfter;
  }
}

export function url(path) {
  return path.startsWith("/") ? path : API + path;
}

function headers({ json = false, ifMatch = null, extra = {} } = {}) {
  const h = { Accept: "application/json", "X-CSRFToken": csrf(), ...extra };
  if (json) h["Content-Type"] = "application/json";
  if (ifMatch !== null) h["If-Match"] = `"${ifMatch}"`;
  return h;
}

async function fail(response) {
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (response.status === 401) document.dispatchEvent(new CustomEvent("quire:signed-out"));
  throw new ApiError({ status: response.status, data, retryAfter: response.headers.get("Retry-After") });
}

export async function request(method, path, { body, ifMatch = null, prefer = null, signal } = {}) {
  let response;
  try {
    response = await fetch(url(path), {
      method,
      credentials: "same-origin",
      headers: headers({ json: body !== undefined, ifMatch, extra: prefer ? { Prefer: prefer } : {} }),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError({ status: 0 });
  }
  if (!response.ok) await fail(response);
  if (response.status === 204) return { data: null, headers: response.headers };
  return { data: await response.json(), headers: response.headers };
}

export const get = (path, opts) => request("GET", path, opts).then((r) => r.data);

// An upload with progress events (fetch cannot report upload progress).
export function upload(target, form, { onProgress, withSession = true } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", target);
    if (withSession) {
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.setRequestHeader("Accept", "application/json");
    }
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      let data = {};
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : {};
      } catch {
        data = {};
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError({ status: xhr.status, data, retryAfter: xhr.getResponseHeader("Retry-After") }));
    });
    xhr.addEventListener("error", () => reject(new ApiError({ status: 0 })));
    xhr.send(form);
  });
}

// POST an AI action with stream: true; call onText for each piece as it comes.
export async function stream(path, body, { onText, signal } = {}) {
  let response;
  try {
    response = await fetch(url(path), {
      method: "POST",
      credentials: "same-origin",
      headers: { ...headers({ json: true }), Accept: "text/event-stream" },
      body: JSON.stringify({ ...body, stream: true }),
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError({ status: 0 });
  }
  if (!response.ok) await fail(response);
  const events = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream());
  let text = "";
  for await (const event of events) {
    if (event.data === "[DONE]") break;
    const chunk = JSON.parse(event.data);
    if (chunk.error) {
      const status = /timeout/i.test(chunk.error.code || "") ? 504 : 502;
      throw new ApiError({ status, data: { detail: chunk.error.message, code: chunk.error.code } });
    }
    for (const choice of chunk.choices || []) {
      const piece = choice.delta?.content || "";
      if (piece) {
        text += piece;
        onText?.(text, piece);
      }
    }
  }
  return text;
}
