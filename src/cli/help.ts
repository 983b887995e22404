import { EMULATORS, PROVIDER_NAMES } from '../providers/registry.js';
import type { CommandName } from './args.js';
import { exitCodeTable } from './exit-codes.js';

const EMULATOR_NAMES = EMULATORS.map((e) => e.name);
const PROVIDER_LIST = wrap(PROVIDER_NAMES.join(', '), 28, 110);

/** Wraps a comma-separated list at `width`, continuing lines at column `indent`. */
function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const BACKEND = `Backend selection (first found wins; flags apply on top):
  -c, --config <file|json>  a createStorageProvider config as a JSON file, or inline JSON
                            ("encryption": {"keyFile"|"passphraseFile": path} may sit beside "provider")
  NEBULA_CREDENTIAL_CONFIG  the same, from the environment
  ~/.nebula/config.json     written by "init"
  (default)                 {"provider": "local", "directory": "~/.nebula/credentials"}
  --provider <name>         ${PROVIDER_LIST}
                            (starts from that provider alone: its environment variables supply the rest,
                            e.g. VAULT_ADDR and VAULT_TOKEN)
  --dir <path>              the local provider's directory
  -o, --option <key=value>  any other provider option (JSON values allowed); keep secrets in files/env
  --key-file <path>         the key file (also NEBULA_CREDENTIAL_KEY_FILE); default ~/.nebula/key, else
                            ~/.nebula/passphrase.json with NEBULA_CREDENTIAL_PASSPHRASE or a prompt
  --debug                   where each setting came from (option, environment, file, default; never a
                            secret's value), stack traces and the provider's log (redacted), on standard error`;

const MAIN = `Usage: nebula-credential <command> [options]

Stores encrypted credentials in a local directory or a cloud secret store, behind one interface.

Commands:
  init                 set up ~/.nebula: the credentials directory and a random key (or --passphrase)
  put <id>             store a credential from standard input, --from-file, or a hidden prompt (asked twice)
  get <id>             print the value (only the value) to standard output; --json adds the metadata
  list                 list ids; --tag key=value, --created-after, --created-before, --json
  describe <id>        show metadata (never the value)
  delete <id>          delete a credential (nothing to delete: NotFound, or success with --force)
  exists <id>          exit status 0 if it exists, 1 if not
  copy                 copy credentials between two backends: --from <config> --to <config>
  watch <id>           print a line (or --json object) each time a credential changes, until Ctrl-C
  emulator <service>   run a local emulator of ${EMULATOR_NAMES.slice(0, -1).join(', ')} or ${EMULATOR_NAMES.at(-1)}
  help [command]       this text, or a command's

Options:
  -h, --help           help (also "<command> --help")
  --version            the version

${BACKEND}

Exit status:
${exitCodeTable()}

Examples:
  nebula-credential init
  printf %s "$TOKEN" | nebula-credential put github_token --tag team=platform
  nebula-credential get github_token
  nebula-credential list --tag team=platform --json
  nebula-credential copy --from ~/.nebula/config.json --to vault.json --dry-run
`;

const COMMANDS: Record<Exclude<CommandName, 'help'>, string> = {
  put: `Usage: nebula-credential put <id> [--tag key=value]... [--rotation-days N] [--from-file path] [--no-confirm] [--new]

Stores (or replaces) a credential, encrypted before it leaves the process. The value comes from
--from-file, from standard input when it is not a terminal (one trailing newline removed), or from a
prompt without echo that asks twice. Never from the command line.

Options:
  -t, --tag key=value   a tag (repeatable)
  --rotation-days N     record a rotation interval of N days (1-36500)
  --from-file <path>    read the value from this file, byte for byte
  --no-confirm          at the prompt, ask for the value once
  --new                 only a new credential: an existing id fails with Conflict (exit status below)
                        and stays as it was; costs no read first where the backend has a create call
Replacing a credential keeps its creation time, and keeps its tags (rotation interval) unless --tag
(--rotation-days) gives new ones, which then replace them all.

Example:
  printf %s "$TOKEN" | nebula-credential put github_token --tag team=platform`,
  get: `Usage: nebula-credential get <id> [--json]

Prints the value, and nothing else, to standard output (a newline only on a terminal).

Options:
  --json   print {"id", "provider", "version"?, "metadata", "value"} instead

Example:
  export GITHUB_TOKEN="$(nebula-credential get github_token)"`,
  list: `Usage: nebula-credential list [--tag key=value]... [--created-after date] [--created-before date] [--json]

Prints the ids, sorted, one per line. Every filter must match; dates are inclusive.

Options:
  -t, --tag key=value      only credentials with this tag (repeatable)
  --created-after <date>   created at or after (2026-01-31, or a full ISO-8601 time)
  --created-before <date>  created at or before
  --json                   print a JSON array of ids

Example:
  nebula-credential list --tag team=platform --created-after 2026-01-01`,
  describe: `Usage: nebula-credential describe <id> [--json]

Prints the metadata (times, tags, rotation interval, version and history where the backend has them),
never the value. Needs no key.

Options:
  --json   print {"id", "provider", "version"?, "metadata", "versions"?}

Example:
  nebula-credential describe github_token --json`,
  delete: `Usage: nebula-credential delete <id> [--force]

Deletes a credential. Nothing to delete is NotFound, unless --force. Backends with soft delete keep
it recoverable for their retention period (see the README's provider table).

Options:
  -f, --force   succeed when there is nothing to delete

Example:
  nebula-credential delete github_token`,
  exists: `Usage: nebula-credential exists <id>

Prints nothing; exit status 0 when the credential exists, 1 when it does not. Needs no key.

Example:
  nebula-credential exists github_token || printf %s "$TOKEN" | nebula-credential put github_token`,
  init: `Usage: nebula-credential init [--passphrase] [--dir path]

Sets up ~/.nebula (mode 0700): the credentials directory, a random key (~/.nebula/key, 0600) or a
passphrase file, and config.json. Running it again does nothing; it never replaces a key.

Options:
  --passphrase   derive the key from a passphrase (asked twice, or NEBULA_CREDENTIAL_PASSPHRASE)
  --dir <path>   keep the credentials in this directory instead of ~/.nebula/credentials

Example:
  nebula-credential init`,
  copy: `Usage: nebula-credential copy --from <config> --to <config> [--tag key=value]... [--dry-run] [--json]

Copies credentials with their metadata between two backends, verifying each by reading it back, and
skipping what is already identical (re-running after a failure is safe). <config> is a JSON file or
inline JSON, as for --config.

Options:
  --from <config>      source backend
  --to <config>        destination backend
  -t, --tag key=value  only credentials with this tag (repeatable)
  --dry-run            list what would be copied, unchanged or could not be checked; write nothing
  --json               print the summary (or the plan) as JSON

Example:
  nebula-credential copy --from ~/.nebula/config.json --to vault.json --dry-run`,
  watch: `Usage: nebula-credential watch <id> [--interval 30s] [--json]
       nebula-credential watch --tag key=value... [--interval 30s] [--json]

Follows a credential (or every credential with the given tags) and prints one line per change, until
Ctrl-C: "<time> changed <id> version <v>" or "<time> deleted <id>". Uses the backend's cheapest change
signal (Vault metadata, AWS DescribeSecret, Azure secret properties, the Kubernetes watch API, file-system
events for the local store), never reading or printing a value, so it needs no key. Polling backs off
while the backend fails; errors are reported on standard error.

Options:
  --interval <duration>  time between polls: 500ms, 30s, 5m (a bare number is seconds); default 30s
  -t, --tag key=value    watch every credential with this tag (repeatable) instead of one id
  --json                 print {"time", "id", "kind", "version"?} per change

Example:
  nebula-credential watch db_password --interval 15s --json`,
  emulator: `Usage: nebula-credential emulator <${EMULATOR_NAMES.join('|')}> [--port N] [--http]

Runs a local, in-memory emulator of the service until Ctrl-C, and prints one JSON line with its
endpoint and "config", a config that connects to it (usable as --config).

Options:
  -p, --port N   listen on this port (default: a free one)
  --http         serve plain http where the service allows it (aws, vault)

Example:
  nebula-credential emulator vault > vault.jsonl &   # then: jq .config vault.jsonl > vault.json`,
};

/** Points from a command's help to what every command shares. */
const SHARED = `Backend and key options (--config, --provider, --dir, -o/--option, --key-file, --debug) and the exit
statuses: nebula-credential --help.`;

/** Help for the program or one command. */
export function helpText(command?: CommandName): string {
  if (command === undefined || command === 'help') return MAIN;
  return `${COMMANDS[command]}\n\n${SHARED}\n`;
}
