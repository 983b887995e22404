#!/usr/bin/env node
// The README's quick start: runs the command a first-time user would type (init, put from standard
// input, get, list, describe) in a fresh sandbox HOME under the system temp directory, so your real
// ~/.nebula is never touched, and prints each command with its output. The sandbox is kept so you can
// keep exploring; the last lines say where it is and how to remove it.
// Run after `npm install`: npm run build && node scripts/quickstart.mjs
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'dist', 'cli', 'main.js');
if (!existsSync(cli)) {
  console.error('dist/cli/main.js is missing: run "npm run build" first');
  process.exit(1);
}

const home = mkdtempSync(join(tmpdir(), 'nebula-quickstart-'));
const env = { ...process.env, HOME: home, USERPROFILE: home };
for (const key of Object.keys(env)) if (key.startsWith('NEBULA_CREDENTIAL_')) delete env[key];
const value = 'ghp_quickstart_example_value';

function step(shown, args, input) {
  console.log(`\n$ ${shown}`);
  const r = spawnSync(process.execPath, [cli, ...args], { env, input: input ?? '', encoding: 'utf8' });
  if (r.stdout) process.stdout.write(r.stdout.endsWith('\n') ? r.stdout : `${r.stdout}\n`);
  if (r.stderr) process.stdout.write(r.stderr);
  if (r.status !== 0) {
    console.error(`\nquick start failed at "${shown}" (exit status ${r.status}); sandbox kept in ${home}`);
    process.exit(1);
  }
  return r.stdout;
}

console.log(`Quick start in a sandbox HOME: ${home}`);
step('nebula-credential init', ['init']);
step(
  `printf %s '${value}' | nebula-credential put github_token --tag team=platform --rotation-days 90`,
  ['put', 'github_token', '--tag', 'team=platform', '--rotation-days', '90'],
  value,
);
const got = step('nebula-credential get github_token', ['get', 'github_token']);
step('nebula-credential list --tag team=platform', ['list', '--tag', 'team=platform']);
step('nebula-credential describe github_token', ['describe', 'github_token']);
if (got !== value) {
  console.error('\nquick start failed: get returned something other than what put stored');
  process.exit(1);
}

console.log(`
Stored, encrypted (AES-256-GCM, key in ${join(home, '.nebula', 'key')}), and read back.
Keep exploring this sandbox:  HOME=${home} node dist/cli/main.js list
Remove it:                    rm -rf ${home}
Use it for real:              node dist/cli/main.js init   (sets up ~/.nebula; "npx nebula-credential" once installed)`);
