// Copy the browser builds of the npm dependencies into the folders Django
// serves, with their licences and a VERSIONS file. Run `npm ci && npm run
// vendor` after changing package.json; the copies are committed, so the app
// needs no Node at run time.
import { cpSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const copies = [
  ["marked", "static/web/vendor/marked", [["lib/marked.esm.js", "marked.esm.js"], ["LICENSE", "LICENSE"]]],
  ["dompurify", "static/web/vendor/dompurify", [["dist/purify.es.mjs", "purify.es.js"], ["LICENSE", "LICENSE"], ["LICENSE-MPL", "LICENSE-MPL"]]],
  ["diff", "static/web/vendor/diff", [["libesm", "libesm"], ["LICENSE", "LICENSE"]]],
  ["eventsource-parser", "static/web/vendor/eventsource-parser", [["dist", "dist"], ["LICENSE", "LICENSE"]]],
  ["redoc", "static/web/vendor/redoc", [["bundles/redoc.standalone.js", "redoc.standalone.js"], ["bundles/redoc.standalone.js.LICENSE.txt", "redoc.standalone.js.LICENSE.txt"], ["LICENSE", "LICENSE"]]],
  ["axe-core", "tests/vendor/axe-core", [["axe.min.js", "axe.min.js"], ["LICENSE", "LICENSE"]]],
];

// Redoc (the API docs page, /api/redoc/) draws its sidebar logo from
// cdn.redoc.ly, which the CSP refuses (img-src 'self'): the logo's URL is
// emptied, so no request is made and Redoc drops the image (its onError);
// the "API docs by Redocly" link stays. Fails if the bundle changes shape.
const patches = [
  ["static/web/vendor/redoc/redoc.standalone.js", 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"', 'src:""'],
];

for (const [name, target, files] of copies) {
  const source = join("node_modules", name);
  const version = JSON.parse(readFileSync(join(source, "package.json"), "utf8")).version;
  rmSync(target, { recursive: true, force: true });
  mkdirSync(target, { recursive: true });
  for (const [from, to] of files) {
    cpSync(join(source, from), join(target, to), {
      recursive: true,
      filter: (path) => !/\.(d\.ts|map)$/.test(path),
    });
  }
  writeFileSync(join(target, "VERSION"), `${name} ${version}\n`);
  stripSourceMaps(target);
}

for (const [path, from, to] of patches) {
  const text = readFileSync(path, "utf8");
  if (text.split(from).length !== 2) {
    throw new Error(`${path}: expected ${from} exactly once`);
  }
  writeFileSync(path, text.replace(from, to));
}

// The .map files are not copied, so their references go too (Django's
// manifest storage would fail collectstatic on a missing map).
function stripSourceMaps(folder) {
  for (const entry of readdirSync(folder)) {
    const path = join(folder, entry);
    if (statSync(path).isDirectory()) {
      stripSourceMaps(path);
    } else if (/\.m?js$/.test(path)) {
      const text = readFileSync(path, "utf8");
      writeFileSync(path, text.replace(/^\/\/# sourceMappingURL=.*$/gm, ""));
    }
  }
}
