// Show what changed between two texts (jsdiff), as inline insertions/deletions.
import { diffLines, diffWordsWithSpace } from "../vendor/diff/libesm/index.js";
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
