// Every answer the API can give, as a sentence a writer understands.

function seconds(value) {
  const n = Number.parseInt(value, 10);
  if (!Number.isFinite(n) || n <= 0) return "a moment";
  if (n < 90) return `${n} second${n === 1 ? "" : "s"}`;
  return `${Math.ceil(n / 60)} minutes`;
}

export function humanError({ status, code = "", detail = "", retryAfter = null }) {
  if (status === 0) return "Quire cannot be reached. Check your connection; your text is kept on this device.";
  if (status === 401) return "Your session has ended. Sign in again to continue; your unsaved text is kept on this device.";
  if (status === 403) {
    if (/csrf/i.test(detail)) return "This page is out of date. Reload it and try again.";
    return "You are not allowed to do that with this document.";
  }
  if (status === 404) return "That document or file no longer exists, or it is not shared with you.";
  if (status === 409) return detail || "That conflicts with the current state; reload and try again.";
  if (status === 412) return "Someone else saved this document first.";
  if (status === 413) return detail || "That is too large.";
  if (status === 415) return detail || "That kind of file is not allowed.";
  if (status === 428) return "The save was missing its version; reload the document.";
  if (status === 429) {
    if (code === "quota_exceeded" || /quota/i.test(detail)) {
      return `${detail || "You have used this month's AI allowance."} Try again in ${seconds(retryAfter)}.`;
    }
    return `Too many requests. Try again in ${seconds(retryAfter)}.`;
  }
  if (status === 502) return "The AI service answered with an error. Try again in a moment.";
  if (status === 503) return detail || "This part of Quire is not available right now. Try again later.";
  if (status === 504) return "The AI service took too long to answer. Try again.";
  if (status >= 500) return "Something went wrong on our side. Try again in a moment.";
  if (status === 400) return detail && detail !== "Invalid input." ? detail : "Some of what was sent is not valid.";
  return detail || `The request failed (${status}).`;
}

export function fieldErrors(data) {
  if (!data || typeof data.fields !== "object" || data.fields === null) return "";
  return Object.entries(data.fields)
    .map(([name, messages]) => `${name}: ${[].concat(messages).join(" ")}`)
    .join("; ");
}
