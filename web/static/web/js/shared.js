// A shared document's read-only page (/s/{secret}): the server put the
// Markdown in the page as text; render it as the editor's preview does.
import { renderMarkdown } from "./markdown.js";

const source = document.getElementById("shared-source");
const target = document.getElementById("shared-body");
renderMarkdown(target, source.textContent);
source.hidden = true;
target.hidden = false;
