// Quire's web app: lists, search, the editor and its panels, the account.
import { get, request } from "./api.js";
import { Editor } from "./editor.js";
import { openPanel, closePanel } from "./panels.js";
import { wireExport, wireImport } from "./transfer.js";
import { $, attempt, el, notify, when, who } from "./ui.js";
import DOMPurify from "../vendor/dompurify/purify.es.js";

const state = { scope: "owned", q: "", next: null, me: null };
const editor = new Editor();

function show(view) {
  $("#list-view").hidden = view !== "list";
  $("#editor-view").hidden = view !== "editor";
  if (view !== "editor") closePanel();
}

function documentItem(doc) {
  const link = el("a", { href: `#/d/${doc.id}`, class: "doc-link" }, el("span", { class: "doc-title", text: doc.title || "Untitled" }));
  const meta = el("span", { class: "muted", text: `${doc.role === "owner" ? "" : `${who(doc.owner)} · `}edited ${when(doc.updated_at)}` });
  const item = el("li", { class: "doc" }, link, meta);
  if (doc.snippet) {
    // The API escapes the text and marks matches; only <mark> may survive.
    const snippet = el("p", { class: "snippet" });
    snippet.innerHTML = DOMPurify.sanitize(doc.snippet, { ALLOWED_TAGS: ["mark"], ALLOWED_ATTR: [] });
    item.append(snippet);
  }
  if (state.scope === "trash") {
    item.append(
      el("button", { type: "button", class: "restore", text: "Restore", onclick: () => restore(doc) }),
    );
  }
  return item;
}

async function restore(doc) {
  await attempt(async () => {
    await request("POST", `documents/${doc.id}/restore/`);
    notify(`“${doc.title || "Untitled"}” is back in your documents.`, { kind: "info" });
    await loadList();
  });
}

async function loadList({ more = false } = {}) {
  const list = $("#documents");
  const params = new URLSearchParams({ scope: state.scope });
  if (state.q) params.set("q", state.q);
  if (more && state.next) params.set("cursor", state.next);
  const page = await attempt(() => get(`documents/?${params}`));
  if (!page) return;
  if (!more) list.replaceChildren();
  for (const doc of page.results) list.append(documentItem(doc));
  if (!more && page.results.length === 0) {
    const empty = {
      owned: state.q ? "No document matches." : "No documents yet. Start one with “New document”.",
      shared: "Nothing is shared with you yet.",
      trash: "The trash is empty.",
    }[state.scope];
    list.append(el("li", { class: "muted empty", text: empty }));
  }
  state.next = page.next_cursor;
  $("#more").hidden = !state.next;
}

const TITLES = { owned: "My documents", shared: "Shared with me", trash: "Trash" };

async function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const doc = hash.match(/^\/d\/([^/?]+)/);
  if (doc) {
    show("editor");
    await editor.open(doc[1]);
    return;
  }
  const shared = hash.match(/^\/s\/([A-Za-z0-9_-]+)/);
  if (shared) {
    show("editor");
    await editor.openLink(shared[1]);
    return;
  }
  await editor.leave();
  const [path, query = ""] = hash.split("?");
  state.scope = { "/shared": "shared", "/trash": "trash" }[path] || "owned";
  state.q = new URLSearchParams(query).get("q") || "";
  $("#search").value = state.q;
  $("#list-title").textContent = state.q ? `Search: ${state.q}` : TITLES[state.scope];
  for (const tab of document.querySelectorAll(".tabs a")) {
    tab.toggleAttribute("aria-current", tab.dataset.scope === state.scope);
    if (tab.dataset.scope === state.scope) tab.setAttribute("aria-current", "page");
  }
  show("list");
  await loadList();
}

async function createDocument() {
  await attempt(async () => {
    const { data } = await request("POST", "documents/", { body: { title: "Untitled", body: "" } });
    location.hash = `#/d/${data.id}`;
  });
}

async function loadMe() {
  const me = await attempt(() => get("me"));
  if (!me) return;
  state.me = me;
  $("#account-name").textContent = me.display_name || me.email || "Account";
  const usage = await attempt(() => get("ai/usage"));
  if (usage) {
    $("#usage").textContent = `AI this month: ${usage.tokens_used.toLocaleString()} of ${usage.tokens_limit.toLocaleString()} tokens used.`;
  }
}

async function signOutEverywhere() {
  const done = await attempt(async () => {
    await request("POST", "me/sign-out");
    return true;
  });
  if (done) $("#signout-form").submit();
}

async function deleteAccount() {
  const dialog = $("#confirm-delete");
  $("#confirm-email").value = "";
  dialog.showModal();
  dialog.addEventListener(
    "close",
    async () => {
      if (dialog.returnValue !== "delete") return;
      const typed = $("#confirm-email").value.trim().toLowerCase();
      if (!state.me || typed !== (state.me.email || "").toLowerCase()) {
        notify("The email address did not match; your account was not deleted.");
        return;
      }
      const done = await attempt(async () => {
        await request("DELETE", "me");
        return true;
      });
      if (done) {
        localStorage.clear();
        $("#signout-form").submit();
      }
    },
    { once: true },
  );
}

function wire() {
  $("#search-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const q = $("#search").value.trim();
    location.hash = q ? `#/?q=${encodeURIComponent(q)}` : "#/";
  });
  $("#new-document").addEventListener("click", createDocument);
  wireImport();
  wireExport(editor);
  $("#more").addEventListener("click", () => loadList({ more: true }));
  $("#sign-out-everywhere").addEventListener("click", signOutEverywhere);
  $("#delete-account").addEventListener("click", deleteAccount);
  $("#side-close").addEventListener("click", closePanel);
  for (const button of document.querySelectorAll("[data-panel]")) {
    button.addEventListener("click", () => openPanel(button.dataset.panel, editor));
  }
  $("#trash-button").addEventListener("click", () =>
    attempt(async () => {
      await editor.flush();
      await request("DELETE", `documents/${editor.doc.id}/`);
      notify("Moved to the trash. You can restore it from there.", { kind: "info" });
      location.hash = "#/";
    }),
  );
  document.addEventListener("quire:signed-out", () => {
    notify("Your session has ended. Sign in again to continue; your unsaved text is kept on this device.", { sticky: true });
  });
  window.addEventListener("hashchange", route);
}

wire();
loadMe();
route();
