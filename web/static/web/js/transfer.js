// Export (a menu of formats) and import (a file becomes a new document).
import { ApiError, upload, url } from "./api.js";
import { $, attempt, notify } from "./ui.js";

const IMPORT_ACCEPT = [
  ".md", ".markdown", ".txt", ".html", ".htm", ".docx",
  "text/markdown", "text/plain", "text/html",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
].join(",");

// The file name the server chose (RFC 6266: filename* first, then filename).
function filenameFrom(disposition, fallback) {
  const star = /filename\*=utf-8''([^;]+)/i.exec(disposition || "");
  if (star) {
    try {
      return decodeURIComponent(star[1]);
    } catch {
      /* fall through */
    }
  }
  const plain = /filename="([^"]+)"/i.exec(disposition || "");
  return plain ? plain[1] : fallback;
}

async function download(path, fallback) {
  let response;
  try {
    response = await fetch(url(path), { credentials: "same-origin" });
  } catch {
    throw new ApiError({ status: 0 });
  }
  if (!response.ok) {
    let data = {};
    try {
      data = await response.json();
    } catch {
      data = {};
    }
    throw new ApiError({ status: response.status, data, retryAfter: response.headers.get("Retry-After") });
  }
  const blob = await response.blob();
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = filenameFrom(response.headers.get("Content-Disposition"), fallback);
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60_000);
}

export function wireExport(editor) {
  const menu = $("#export-menu");
  for (const button of menu.querySelectorAll("[data-format]")) {
    button.addEventListener("click", () =>
      attempt(async () => {
        menu.open = false;
        await editor.flush(); // export what the writer sees, not the last autosave
        const format = button.dataset.format;
        await download(`documents/${editor.doc.id}/export?format=${format}`, `document.${format}`);
      }),
    );
  }
}

export function wireImport() {
  const input = $("#import-file");
  input.accept = IMPORT_ACCEPT;
  $("#import-document").addEventListener("click", () => input.click());
  input.addEventListener("change", () =>
    attempt(async () => {
      const file = input.files[0];
      input.value = "";
      if (!file) return;
      const form = new FormData();
      form.append("file", file);
      notify(`Importing ${file.name}…`, { kind: "info" });
      const data = await upload(url("documents/import"), form);
      const skipped = data.skipped_images
        ? ` ${data.skipped_images} image${data.skipped_images === 1 ? " was" : "s were"} left out.`
        : "";
      notify(`${file.name} is imported.${skipped}`, { kind: "info" });
      location.hash = `#/d/${data.id}`;
    }),
  );
}
