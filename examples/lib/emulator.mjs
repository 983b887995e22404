// Starts `nebula-credential emulator <service>` in a child process and returns the JSON line it prints
// (`info.config` is the createStorageProvider config that connects to it). Used by the cloud examples.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const packageJson = fileURLToPath(import.meta.resolve('nebula-credential/package.json'));
const bin = join(
  dirname(packageJson),
  JSON.parse(readFileSync(packageJson, 'utf8')).bin['nebula-credential'],
);

/**
 * @param {'aws' | 'azure' | 'vault' | 'kubernetes'} service
 * @returns {Promise<{ info: { service: string, config: Record<string, unknown> }, stop: () => Promise<void> }>}
 */
export async function startEmulator(service) {
  const child = spawn(process.execPath, [bin, 'emulator', service], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const exited = new Promise((resolve) => child.once('close', resolve));
  const firstLine = await new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => resolve(line));
    child.once('close', (code) =>
      reject(new Error(`the ${service} emulator exited (${code}): ${stderr.trim()}`)),
    );
  });
  const info = JSON.parse(firstLine);
  return {
    info,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
