// The editor's side panels: history, sharing, files and AI.
import { get, request, stream, upload, url } from "./api.js";
import { renderDiff } from "./diffview.js";
import { renderMarkdown } from "./editor.js";
import { $, attempt, bytes, el, notify, when, who } from "./ui.js";

let current = null;
let aborter = null;

export function closePanel() {
  aborter?.abort();
  aborter = null;
  current = null;
  $("#side").hidden = true;
  $("#side-body").replaceChildren();
}

export async function openPanel(name, editor) {
  if (!editor.doc) return;
  closePanel();
  current = name;
  const titles = { revisions: "History", sharing: "Share", attachments: "Files", ai: "AI assistant" };
  $("#side-title").textContent = titles[name];
  $("#side").hidden = false;
  const body = $("#side-body");
  await { revisions, sharing, attachments, ai }[name](body, editor);
}

// --- History -------------------------------------------------------------------

async function revisions(body, editor) {
  const doc = editor.doc;
  await editor.flush();
  const page = await attempt(() => get(`documents/${doc.id}/revisions/`));
  if (!page) return;
  const list = el("ol", { class: "revisions", reversed: true });
  const chosen = [];
  const compare = el("button", { type: "button", text: "Compare selected", disabled: true });
  const output = el("div", { class: "diff", "aria-live": "polite" });
  for (const revision of page.results) {
    const box = el("input", { type: "checkbox", id: `rev-${revision.number}`, value: revision.number });
    box.addEventListener("change", () => {
      if (box.checked) chosen.push(revision.number);
      else chosen.splice(chosen.indexOf(revision.number), 1);
      while (chosen.length > 2) document.getElementById(`rev-${chosen.shift()}`).checked = false;
      compare.disabled = chosen.length !== 2;
    });
    const restore = el("button", {
      type: "button",
      text: "Restore",
      disabled: !editor.editable,
      onclick: () =>
        attempt(async () => {
          await editor.flush();
          const { data } = await request("POST", `documents/${doc.id}/revisions/${revision.number}/restore/`, {
            ifMatch: editor.doc.version,
          });
          editor.show(data);
          notify(`Version ${revision.number} is restored as version ${data.version}.`, { kind: "info" });
          await openPanel("revisions", editor);
        }),
    });
    const merge = revision.merged_from;
    const merged = merge ? ` · merged (edits from version ${merge.base_version} joined with version ${merge.current_version})` : "";
    const label = el("label", {
      for: box.id,
      text: `Version ${revision.number} · ${who(revision.author)} · ${when(revision.created_at)}${merged}`,
    });
    list.append(el("li", {}, box, label, restore));
  }
  compare.addEventListener("click", () =>
    attempt(async () => {
      const [a, b] = [...chosen].sort((x, y) => x - y);
      const [older, newer] = await Promise.all([
        get(`documents/${doc.id}/revisions/${a}/`),
        get(`documents/${doc.id}/revisions/${b}/`),
      ]);
      output.replaceChildren(el("h3", { text: `Changes from version ${a} to ${b}` }), el("pre", { class: "version" }));
      renderDiff(output.querySelector("pre"), older.body, newer.body);
    }),
  );
  body.replaceChildren(el("p", { class: "muted", text: "Pick two versions to see what changed." }), list, compare, output);
}

// --- Sharing -------------------------------------------------------------------

async function sharing(body, editor, { created = null } = {}) {
  const doc = editor.doc;
  const grants = await attempt(() => get(`documents/${doc.id}/access/`));
  if (!grants) return;
  const roleSelect = (value, label) =>
    el(
      "select",
      { "aria-label": label },
      ...["viewer", "editor"].map((role) => el("option", { value: role, selected: role === value, text: role === "viewer" ? "Can view" : "Can edit" })),
    );
  const email = el("input", { type: "email", id: "share-email", required: true, autocomplete: "off" });
  const role = roleSelect("editor", "Role for the new person");
  const form = el(
    "form",
    { class: "share-form" },
    el("label", { for: "share-email", text: "Add a person by email" }),
    email,
    role,
    el("button", { type: "submit", text: "Share" }),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const { data } = await request("POST", `documents/${doc.id}/access/`, { body: { email: email.value.trim(), role: role.value } });
      notify(data.status === "pending" ? `${data.email} is invited; they get access when they sign up.` : `Shared with ${data.email}.`, { kind: "info" });
      await sharing(body, editor);
    });
  });
  const people = el("ul", { class: "grants" });
  people.append(el("li", {}, el("span", { text: `${who(grants.owner)} (owner)` })));
  for (const grant of grants.results) {
    const change = roleSelect(grant.role, `Role of ${grant.email}`);
    change.addEventListener("change", () =>
      attempt(async () => {
        await request("PATCH", `documents/${doc.id}/access/${grant.id}/`, { body: { role: change.value } });
        notify(`${grant.email} can now ${change.value === "viewer" ? "view" : "edit"}.`, { kind: "info" });
      }),
    );
    const revoke = el("button", {
      type: "button",
      text: "Remove",
      "aria-label": `Remove ${grant.email}`,
      onclick: () =>
        attempt(async () => {
          await request("DELETE", `documents/${doc.id}/access/${grant.id}/`);
          await sharing(body, editor);
        }),
    });
    const label = grant.status === "pending" ? `${grant.email} (invitation pending)` : grant.email;
    people.append(el("li", { class: grant.status }, el("span", { text: label }), change, revoke));
  }
  body.replaceChildren(form, el("h3", { text: "People with access" }), people, ...shareLinks(body, editor, grants.links || [], created));
}

// Share links: made here, copied once (the secret is shown only at creation), revoked.
const EXPIRIES = [
  ["", "Never expires"],
  ["1", "Expires in 1 day"],
  ["7", "Expires in 7 days"],
  ["30", "Expires in 30 days"],
];

function describeLink(link) {
  const audienceText = link.audience === "anyone" ? "Anyone with the link" : "Signed-in users with the link";
  const can = link.role === "editor" ? "can edit" : "can view";
  return `${audienceText} ${can}${link.expires_at ? ` · until ${when(link.expires_at)}` : ""}`;
}

function shareLinks(body, editor, links, created) {
  const doc = editor.doc;
  const audience = el(
    "select",
    { id: "link-audience", "aria-label": "Who can open the link" },
    el("option", { value: "anyone", text: "Anyone with the link" }),
    el("option", { value: "signed_in", text: "Signed-in users with the link" }),
  );
  const role = el(
    "select",
    { id: "link-role", "aria-label": "What the link allows" },
    el("option", { value: "viewer", text: "Can view" }),
    el("option", { value: "editor", text: "Can edit (signed-in users)" }),
  );
  const expiry = el(
    "select",
    { id: "link-expiry", "aria-label": "When the link expires" },
    ...EXPIRIES.map(([value, text]) => el("option", { value, text })),
  );
  const form = el("form", { class: "share-form" }, audience, role, expiry, el("button", { type: "submit", text: "Create link" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    attempt(async () => {
      const days = Number(expiry.value);
      const expires_at = days ? new Date(Date.now() + days * 86400_000).toISOString() : null;
      const { data } = await request("POST", `documents/${doc.id}/links/`, {
        body: { audience: audience.value, role: role.value, expires_at },
      });
      await sharing(body, editor, { created: data });
    });
  });
  const parts = [el("h3", { text: "Links" }), form];
  if (created) {
    const field = el("input", { id: "new-link-url", readonly: true, value: created.url });
    const copy = el("button", {
      type: "button",
      text: "Copy link",
      onclick: () =>
        attempt(async () => {
          field.select();
          await navigator.clipboard.writeText(created.url);
          notify("The link is copied.", { kind: "info" });
        }),
    });
    parts.push(
      el(
        "div",
        { class: "new-link", role: "status" },
        el("label", { for: "new-link-url", text: "Copy this link now: it is shown only once." }),
        field,
        copy,
      ),
    );
  }
  const list = el("ul", { class: "links", id: "share-links" });
  for (const link of links) {
    const revoke = el("button", {
      type: "button",
      text: "Revoke",
      "aria-label": `Revoke the link: ${describeLink(link)}`,
      onclick: () =>
        attempt(async () => {
          await request("DELETE", `documents/${doc.id}/links/${link.id}/`);
          notify("The link no longer works.", { kind: "info" });
          await sharing(body, editor);
        }),
    });
    list.append(el("li", { class: "share-link" }, el("span", { text: describeLink(link) }), revoke));
  }
  if (!links.length) list.append(el("li", { class: "muted", text: "No links yet." }));
  parts.push(list);
  return parts;
}

// --- Files ---------------------------------------------------------------------

async function attachments(body, editor, { message = "" } = {}) {
  const doc = editor.doc;
  const page = await attempt(() => get(`documents/${doc.id}/attachments/`));
  if (!page) return;
  const input = el("input", { type: "file", id: "file-input" });
  const bar = el("progress", { id: "upload-progress", max: 100, value: 0, hidden: true, "aria-label": "Upload progress" });
  const label = el("span", { class: "muted", id: "upload-state", role: "status", text: message });
  const send = el("button", { type: "button", text: "Upload", disabled: !editor.editable });
  send.addEventListener("click", () =>
    attempt(async () => {
      const file = input.files[0];
      if (!file) return notify("Choose a file first.");
      bar.hidden = false;
      bar.value = 0;
      const progress = (fraction) => {
        bar.value = Math.round(fraction * 100);
        label.textContent = `Uploading… ${bar.value}%`;
      };
      try {
        await sendFile(doc, file, progress);
      } catch (error) {
        label.textContent = "Upload failed.";
        bar.hidden = true;
        throw error;
      }
      await attachments(body, editor, { message: `${file.name} is uploaded.` });
    }),
  );
  const files = el("ul", { class: "files" });
  for (const file of page.results) {
    const link =
      file.status === "ready"
        ? el("a", { href: url(`attachments/${file.id}/download/`), download: file.filename, text: file.filename })
        : el("span", { text: `${file.filename} (${file.status})` });
    const remove = el("button", {
      type: "button",
      text: "Delete",
      "aria-label": `Delete ${file.filename}`,
      hidden: !editor.editable,
      onclick: () =>
        attempt(async () => {
          await request("DELETE", `attachments/${file.id}/`);
          await attachments(body, editor);
        }),
    });
    files.append(el("li", {}, link, el("span", { class: "muted", text: ` ${bytes(file.size_bytes || 0)} ` }), remove));
  }
  if (!page.results.length) files.append(el("li", { class: "muted", text: "No files yet." }));
  body.replaceChildren(
    el("label", { for: "file-input", text: "Attach a file" }),
    input,
    send,
    bar,
    label,
    files,
  );
}

async function sendFile(doc, file, progress) {
  const type = file.type || "application/octet-stream";
  if (document.body.dataset.storage !== "s3") {
    const form = new FormData();
    form.append("file", file);
    form.append("content_type", type);
    return upload(url(`documents/${doc.id}/attachments/`), form, { onProgress: progress });
  }
  // S3: the server hands out a presigned POST; the bytes go straight to S3.
  const { data } = await request("POST", `documents/${doc.id}/attachments/`, {
    body: { filename: file.name, content_type: type, size: file.size },
  });
  const form = new FormData();
  for (const [key, value] of Object.entries(data.upload.fields)) form.append(key, value);
  form.append("file", file);
  await upload(data.upload.url, form, { onProgress: progress, withSession: false });
  return request("POST", data.upload.complete_url);
}

// --- AI ------------------------------------------------------------------------

const ACTIONS = { summarize: "Summarise", rewrite: "Rewrite", translate: "Translate", continue: "Continue writing" };

async function ai(body, editor) {
  const doc = editor.doc;
  const action = el("select", { id: "ai-action" }, ...Object.entries(ACTIONS).map(([value, text]) => el("option", { value, text })));
  const language = el("input", { id: "ai-language", value: "French", autocomplete: "off" });
  const languageRow = el("p", { hidden: true }, el("label", { for: "ai-language", text: "Into " }), language);
  action.addEventListener("change", () => (languageRow.hidden = action.value !== "translate"));
  const run = el("button", { type: "button", id: "ai-run", text: "Ask" });
  const stop = el("button", { type: "button", text: "Stop", hidden: true });
  const answer = el("div", { id: "ai-answer", class: "ai-answer", "aria-live": "polite" });
  const apply = el("button", { type: "button", id: "ai-apply", text: "Apply to the document", hidden: true });
  const usage = el("p", { class: "muted", id: "ai-usage" });
  let text = "";
  let used = "";

  const showUsage = async () => {
    const u = await attempt(() => get("ai/usage"));
    if (u) usage.textContent = `This month: ${u.tokens_used.toLocaleString()} of ${u.tokens_limit.toLocaleString()} tokens used.`;
  };
  run.addEventListener("click", () =>
    attempt(async () => {
      await editor.flush();
      aborter?.abort();
      aborter = new AbortController();
      text = "";
      used = action.value;
      apply.hidden = true;
      answer.replaceChildren();
      answer.dataset.state = "streaming";
      run.disabled = true;
      stop.hidden = false;
      const params = action.value === "translate" ? { target_language: language.value.trim() } : {};
      try {
        text = await stream(`documents/${doc.id}/ai/${action.value}/`, params, {
          signal: aborter.signal,
          onText: (sofar) => renderMarkdown(answer, sofar),
        });
        answer.dataset.state = "done";
        apply.hidden = !editor.editable || !text;
      } finally {
        run.disabled = false;
        stop.hidden = true;
        await showUsage();
      }
    }),
  );
  stop.addEventListener("click", () => aborter?.abort());
  apply.addEventListener("click", () =>
    attempt(async () => {
      const currentBody = editor.body.value;
      const next =
        used === "continue"
          ? `${currentBody.replace(/\s*$/, "")}\n\n${text}`
          : used === "summarize"
            ? `${currentBody.replace(/\s*$/, "")}\n\n## Summary\n\n${text}\n`
            : text;
      await editor.apply(next);
      apply.hidden = true;
      notify("The answer is in the document.", { kind: "info" });
    }),
  );
  body.replaceChildren(
    el("label", { for: "ai-action", text: "What should the AI do?" }),
    action,
    languageRow,
    run,
    stop,
    answer,
    apply,
    usage,
  );
  await showUsage();
}
