// Show what changed between two texts (jsdiff), as inline insertions/deletions.
import { applyPatch, diffLines, diffWordsWithSpace, structuredPatch } from "../vendor/diff/libesm/index.js";
import { el } from "./ui.js";

export function renderDiff(container, before, after) {
  const parts = before.length + after.length > 200000 ? diffLines(before, after) : diffWordsWithSpace(before, after);
  container.replaceChildren(
    ...parts.map((part) => {
      if (part.added) return el("ins", { text: part.value });
      if (part.removed) return el("del", { text: part.value });
      return document.createTextNode(part.value);
    }),
  );
}

// One side of a two-way comparison: the parts only this side has are marked.
export function renderSide(container, base, side, { mark = "ins" } = {}) {
  const parts = diffLines(base, side);
  container.replaceChildren(
    ...parts
      .filter((part) => !part.removed)
      .map((part) => (part.added ? el(mark, { text: part.value }) : document.createTextNode(part.value))),
  );
}

// A starting point for merging by hand: common lines once, differing runs
// of lines both kept between labelled markers.
export function mergeDraft(theirs, mine) {
  const out = [];
  let pendingTheirs = "";
  let pendingMine = "";
  const flush = () => {
    if (!pendingTheirs && !pendingMine) return;
    if (!pendingTheirs) out.push(pendingMine);
    else if (!pendingMine) out.push(pendingTheirs);
    else out.push(`<<<<<<< yours\n${pendingMine}=======\n${pendingTheirs}>>>>>>> theirs\n`);
    pendingTheirs = "";
    pendingMine = "";
  };
  for (const part of diffLines(theirs.endsWith("\n") ? theirs : `${theirs}\n`, mine.endsWith("\n") ? mine : `${mine}\n`)) {
    if (part.added) pendingMine += part.value;
    else if (part.removed) pendingTheirs += part.value;
    else {
      flush();
      out.push(part.value);
    }
  }
  flush();
  return out.join("");
}

// What was typed while a save was on its way (sent -> now), replayed on the
// text the server answered with (a merge of the save with another writer's).
// Returns the new text, or null when the typing touches lines the other
// writer changed.
export function rebaseTyping(sent, now, merged) {
  if (now === sent) return merged;
  const typed = structuredPatch("", "", sent, now, "", "", { context: 2 });
  const result = applyPatch(merged, typed);
  return result === false ? null : result;
}

// Replace a field's text, keeping the caret, the selection and the scroll
// on the same text: offsets in unchanged lines move with the lines around.
export function replaceKeepingCaret(box, value) {
  const old = box.value;
  if (old === value) return;
  const { selectionStart, selectionEnd, scrollTop } = box;
  const parts = diffLines(old, value);
  const map = (pos) => {
    let from = 0;
    let to = 0;
    for (let i = 0; i < parts.length; i += 1) {
      const part = parts[i];
      if (part.added) {
        to += part.value.length;
        continue;
      }
      const end = from + part.value.length;
      if (!part.removed && pos <= end) return to + (pos - from);
      if (part.removed && pos < end) {
        const next = parts[i + 1];
        return to + Math.min(pos - from, next?.added ? next.value.length : 0);
      }
      from = end;
      if (!part.removed) to += part.value.length;
    }
    return value.length;
  };
  box.value = value;
  box.setSelectionRange(map(selectionStart), map(selectionEnd));
  box.scrollTop = scrollTop;
}
