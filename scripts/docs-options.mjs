#!/usr/bin/env node
// Writes the options table of every provider's docs page from its options schema (run after `npm run
// build`). With --check it only reports pages whose table differs, and fails; the package tests check the
// same thing.
import { readFileSync, writeFileSync } from 'node:fs';
import { PROVIDER_REGISTRY, renderOptionsTable, replaceOptionsTable } from 'nebula-credential';

const root = new URL('..', import.meta.url);
const check = process.argv.includes('--check');
let stale = 0;
for (const provider of PROVIDER_REGISTRY) {
  const file = new URL(provider.docs, root);
  const page = readFileSync(file, 'utf8');
  const next = replaceOptionsTable(page, renderOptionsTable(provider.options));
  if (next === undefined) {
    console.error(`${provider.docs}: no options-table markers`);
    stale++;
  } else if (next !== page) {
    stale++;
    if (check) console.error(`${provider.docs}: the options table differs from the schema`);
    else {
      writeFileSync(file, next);
      console.log(`${provider.docs}: options table written`);
    }
  }
}
if (check && stale > 0) process.exit(1);
