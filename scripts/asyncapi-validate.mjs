// Validates an AsyncAPI document with the AsyncAPI parser (@asyncapi/parser, package.json):
// prints every diagnostic, and exits 1 when one of them is an error (warnings and hints are
// printed, not failing), 2 on wrong usage or an unreadable file.
//
//   node scripts/asyncapi-validate.mjs docs/asyncapi.yaml
//
// internal/protocoldoc's test runs it, so `make test` covers docs/asyncapi.yaml.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';

import asyncapiParser from '@asyncapi/parser';

const { Parser, DiagnosticSeverity } = asyncapiParser;

const severityName = {
  [DiagnosticSeverity.Error]: 'error',
  [DiagnosticSeverity.Warning]: 'warning',
  [DiagnosticSeverity.Information]: 'info',
  [DiagnosticSeverity.Hint]: 'hint',
};

async function main(argv) {
  if (argv.length !== 1) {
    console.error('usage: node scripts/asyncapi-validate.mjs FILE');
    return 2;
  }
  const file = resolve(argv[0]);
  let text;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    console.error(`asyncapi-validate: read ${file}: ${err.message}`);
    return 2;
  }
  const { document, diagnostics } = await new Parser().parse(text, { source: file });
  let errors = 0;
  for (const d of diagnostics) {
    const where = d.range ? `${d.range.start.line + 1}:${d.range.start.character + 1}` : '?';
    const path = d.path && d.path.length ? ` at ${d.path.join('.')}` : '';
    console.log(`${argv[0]}:${where}: ${severityName[d.severity] ?? d.severity}: ${d.message} (${d.code})${path}`);
    if (d.severity === DiagnosticSeverity.Error) {
      errors++;
    }
  }
  if (errors > 0 || document === undefined) {
    console.log(`asyncapi-validate: ${argv[0]}: ${errors} error(s)`);
    return 1;
  }
  console.log(`asyncapi-validate: ${argv[0]}: AsyncAPI ${document.version()} is valid (${diagnostics.length} diagnostic(s), none an error)`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
