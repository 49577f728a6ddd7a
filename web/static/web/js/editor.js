// The Markdown editor: live sanitised preview, autosave with If-Match, a
// local draft in localStorage, and the conflict view when another writer
// saved first (412). Saves ask the server to merge (Prefer: merge), so two
// writers in different paragraphs both keep their text; the conflict view
// shows only when their changes overlap. Nothing typed is dropped: the
// draft stays until the server holds exactly what the editor shows.
import { request } from "./api.js";
import { renderMarkdown } from "./markdown.js";
import { mergeDraft, rebaseTyping, renderSide, replaceKeepingCaret } from "./diffview.js";
import { $, attempt, notify, when, who } from "./ui.js";

const AUTOSAVE_MS = 700;
const draftKey = (id) => `quire:draft:${id}`;

function readDraft(id) {
  try {
    return JSON.parse(localStorage.getItem(draftKey(id)) || "null");
  } catch {
    return null;
  }
}

export { renderMarkdown };

export class Editor {
  constructor() {
    this.doc = null;
    this.timer = null;
    this.saving = null;
    this.conflict = null;
    this.title = $("#title");
    this.body = $("#body");
    for (const field of [this.title, this.body]) field.addEventListener("input", () => this.changed());
    $("#keep-mine").addEventListener("click", () => this.keepMine());
    $("#take-theirs").addEventListener("click", () => this.takeTheirs());
    $("#merge-by-hand").addEventListener("click", () => this.mergeByHand());
    $("#save-merge").addEventListener("click", () => this.saveMerge());
    window.addEventListener("beforeunload", (event) => {
      if (this.doc && this.dirty()) {
        this.writeDraft();
        event.preventDefault();
      }
    });
  }

  get editable() {
    return this.doc && this.doc.role !== "viewer" && !this.doc.trashed_at;
  }

  dirty() {
    return this.doc && (this.title.value !== this.doc.title || this.body.value !== this.doc.body);
  }

  status(text) {
    $("#save-state").textContent = text;
  }

  open(id) {
    return this.load(`documents/${id}/`);
  }

  // A document opened by a share link (/s/{secret}): read and saved through
  // the link's own endpoint, without the panels that need a grant.
  openLink(secret) {
    return this.load(`links/${secret}/`, { viaLink: true });
  }

  async load(path, { viaLink = false } = {}) {
    if (this.doc && this.path === path) return;
    await this.leave();
    this.path = path;
    this.viaLink = viaLink;
    // Nothing can be typed until the document is here (it would be replaced).
    this.title.readOnly = this.body.readOnly = true;
    this.title.value = this.body.value = "";
    this.status("Loading…");
    const loaded = await attempt(() => request("GET", path));
    if (!loaded) {
      location.hash = "#/";
      return;
    }
    this.show(loaded.data);
    const id = this.doc.id;
    const draft = readDraft(id);
    if (!draft || (draft.title === this.doc.title && draft.body === this.doc.body)) {
      localStorage.removeItem(draftKey(id));
      return;
    }
    if (draft.version === this.doc.version && this.editable) {
      this.title.value = draft.title;
      this.body.value = draft.body;
      this.preview();
      notify("Your unsaved text from this device was restored.", { kind: "info" });
      this.changed();
    } else if (this.editable && draft.version) {
      // Saved since: the server merges the draft in, or answers 412 and the
      // conflict view shows.
      this.title.value = draft.title;
      this.body.value = draft.body;
      this.preview();
      this.saving = this.write({ title: draft.title, body: draft.body }, draft.version);
      try {
        await this.saving;
      } finally {
        this.saving = null;
      }
    } else {
      this.showConflict({ title: draft.title, body: draft.body }, this.doc);
    }
  }

  show(doc) {
    this.doc = doc;
    this.title.value = doc.title;
    this.body.value = doc.body;
    this.title.readOnly = this.body.readOnly = !this.editable;
    $("#share-button").hidden = doc.role !== "owner";
    $("#trash-button").hidden = doc.role !== "owner" || Boolean(doc.trashed_at);
    $(".doc-actions").hidden = Boolean(this.viaLink);
    this.status(this.editable ? `Saved · version ${doc.version}` : doc.trashed_at ? "In the trash (read only)" : "View only");
    $("#conflict").hidden = true;
    this.conflict = null;
    this.preview();
    document.title = `${doc.title || "Untitled"} · Quire`;
  }

  preview() {
    renderMarkdown($("#preview"), this.body.value);
  }

  writeDraft() {
    if (!this.doc) return;
    const draft = { title: this.title.value, body: this.body.value, version: this.doc.version, at: Date.now() };
    try {
      localStorage.setItem(draftKey(this.doc.id), JSON.stringify(draft));
    } catch {
      notify("This device's storage is full: your text is only in this tab until it is saved.");
    }
  }

  changed() {
    this.preview();
    if (!this.editable) return;
    this.writeDraft();
    if (this.conflict) return;
    this.status("Unsaved changes");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
  }

  async save() {
    clearTimeout(this.timer);
    if (!this.doc || this.conflict || !this.editable) return;
    if (this.saving) {
      await this.saving;
      if (this.dirty()) return this.save();
      return;
    }
    if (!this.dirty()) return;
    const sent = { title: this.title.value, body: this.body.value };
    this.saving = this.write(sent, this.doc.version);
    try {
      await this.saving;
    } finally {
      this.saving = null;
    }
    if (this.doc && !this.conflict && this.dirty()) this.timer = setTimeout(() => this.save(), AUTOSAVE_MS);
  }

  async write(sent, version) {
    const id = this.doc.id;
    this.status("Saving…");
    try {
      const { data, headers } = await request("PATCH", this.path, { body: sent, ifMatch: version, prefer: "merge" });
      if (this.doc?.id !== id) return;
      const merged = headers.get("Merged-From") !== null;
      if (merged && !this.takeMerged(sent, data)) return;
      this.doc = data;
      if (this.title.value === data.title && this.body.value === data.body) {
        localStorage.removeItem(draftKey(id));
      } else {
        this.writeDraft();
      }
      this.status(`Saved · version ${data.version}${merged ? " · merged with another writer's changes" : ""}`);
    } catch (error) {
      if (this.doc?.id !== id) return;
      if (error.status === 412 && error.data.current) {
        this.showConflict({ title: this.title.value, body: this.body.value }, error.data.current);
        return;
      }
      this.status("Not saved: kept on this device");
      notify(error.message);
    }
  }

  // The server merged the save with another writer's: show the merged text,
  // with whatever was typed since the save was sent replayed on it. Typing
  // that touches the other writer's lines opens the conflict view instead.
  takeMerged(sent, merged) {
    const body = rebaseTyping(sent.body, this.body.value, merged.body);
    if (body === null) {
      this.showConflict({ title: this.title.value, body: this.body.value }, merged);
      return false;
    }
    replaceKeepingCaret(this.title, this.title.value === sent.title ? merged.title : this.title.value);
    replaceKeepingCaret(this.body, body);
    this.preview();
    return true;
  }

  async flush() {
    if (this.doc && this.dirty() && !this.conflict) await this.save();
  }

  async leave() {
    await this.flush();
    clearTimeout(this.timer);
    this.doc = null;
    this.path = null;
    this.viaLink = false;
    this.conflict = null;
    $("#conflict").hidden = true;
    document.title = "Quire";
  }

  showConflict(mine, theirs) {
    this.conflict = { mine, theirs };
    this.writeDraft();
    clearTimeout(this.timer);
    $("#conflict").hidden = false;
    $("#merge").hidden = true;
    $("#conflict-theirs-title").textContent = `Their version (version ${theirs.version}, ${who(theirs.last_editor)}, ${when(theirs.updated_at)})`;
    renderSide($("#conflict-mine"), theirs.body, mine.body, { mark: "ins" });
    renderSide($("#conflict-theirs"), mine.body, theirs.body, { mark: "mark" });
    this.status("Not saved: someone else saved first");
    notify("Someone else saved this document first. Choose which version to keep; yours is safe on this device.", {
      kind: "warning",
    });
  }

  async resolve(text, title) {
    const { theirs } = this.conflict;
    this.conflict = null;
    $("#conflict").hidden = true;
    this.title.value = title;
    this.body.value = text;
    this.doc = theirs;
    this.preview();
    this.writeDraft();
    await this.write({ title, body: text }, theirs.version);
  }

  keepMine() {
    const { mine } = this.conflict;
    return this.resolve(mine.body, mine.title);
  }

  takeTheirs() {
    const { theirs } = this.conflict;
    localStorage.removeItem(draftKey(theirs.id));
    this.show(theirs);
  }

  mergeByHand() {
    const { mine, theirs } = this.conflict;
    $("#merge").hidden = false;
    const box = $("#merge-text");
    box.value = mergeDraft(theirs.body, mine.body);
    box.focus();
  }

  saveMerge() {
    const { mine } = this.conflict;
    return this.resolve($("#merge-text").value, mine.title);
  }

  // Replace or extend the text (AI "Apply"), saved with a normal If-Match update.
  async apply(text) {
    if (!this.editable) return;
    this.body.value = text;
    this.changed();
    await this.save();
  }
}
