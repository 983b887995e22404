import type { CommandName } from './args.js';
import { exitCodeTable } from './exit-codes.js';

const BACKEND = `Backend selection (first found wins; flags apply on top):
  -c, --config <file|json>  a createStorageProvider config as a JSON file, or inline JSON
                            ("encryption": {"keyFile"|"passphraseFile": path} may sit beside "provider")
  NEBULA_CREDENTIAL_CONFIG  the same, from the environment
  ~/.nebula/config.json     written by "init"
  (default)                 {"provider": "local", "directory": "~/.nebula/credentials"}
  --provider <name>         local, aws-secrets-manager, azure-key-vault, hashicorp-vault, kubernetes, memory
  --dir <path>              the local provider's directory
  -o, --option <key=value>  any other provider option (JSON values allowed); keep secrets in files/env
  --key-file <path>         the key file (also NEBULA_CREDENTIAL_KEY_FILE); default ~/.nebula/key, else
                            ~/.nebula/passphrase.json with NEBULA_CREDENTIAL_PASSPHRASE or a prompt
  --debug                   stack traces and the provider's log (redacted) on standard error`;

const MAIN = `Usage: nebula-credential <command> [options]

Stores encrypted credentials in a local directory or a cloud secret store, behind one interface.

Commands:
  init                 set up ~/.nebula: the credentials directory and a random key (or --passphrase)
  put <id>             store a credential; the value comes from standard input, a hidden prompt, or --from-file
  get <id>             print the value (only the value) to standard output; --json adds the metadata
  list                 list ids; --tag key=value, --created-after, --created-before, --json
  describe <id>        show metadata (never the value)
  delete <id>          delete a credential
  exists <id>          exit status 0 if it exists, 1 if not
  copy                 copy credentials between two backends: --from <config> --to <config>
  emulator <service>   run a local emulator of aws, azure, vault or kubernetes
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
  put: `Usage: nebula-credential put <id> [--tag key=value]... [--rotation-days N] [--from-file path]

Stores (or replaces) a credential, encrypted before it leaves the process. The value is read from:
  --from-file <path>    the file's exact bytes
  standard input        when it is not a terminal; one trailing newline is removed
                        (printf %s "$TOKEN" | ..., or echo "$TOKEN" | ...)
  a prompt              on a terminal, without echo
The value is never taken from the command line, where other users could see it.

Options:
  -t, --tag key=value   a tag (repeatable)
  --rotation-days N     record a rotation interval of N days (1-36500)
  --from-file <path>    read the value from a file
Replacing a credential keeps its creation time, and keeps its tags (rotation interval) unless --tag
(--rotation-days) gives new ones, which then replace them all. Prints a confirmation (no value) on
standard error.`,
  get: `Usage: nebula-credential get <id> [--json]

Prints the value, and nothing else, to standard output: no newline is added unless standard output is a
terminal. Missing credential: exit status 3 (NotFound).

Options:
  --json   print {"id", "provider", "version"?, "metadata", "value"} instead`,
  list: `Usage: nebula-credential list [--tag key=value]... [--created-after date] [--created-before date] [--json]

Prints the ids, one per line, sorted. All filters must match; dates are inclusive (2026-01-31 means
midnight UTC; a full ISO-8601 time works too).

Options:
  -t, --tag key=value      only credentials with this tag (repeatable)
  --created-after <date>   created at or after
  --created-before <date>  created at or before
  --json                   print a JSON array of ids`,
  describe: `Usage: nebula-credential describe <id> [--json]

Prints the metadata (times, tags, rotation interval, the backend's version where it has one), never the
value. Needs no key.

Options:
  --json   print {"id", "provider", "version"?, "metadata"}`,
  delete: `Usage: nebula-credential delete <id> [--force]

Deletes a credential. A missing credential is an error (exit status 3) unless --force. On backends with
soft delete (Azure Key Vault) the credential stays recoverable for the vault's retention period.

Options:
  -f, --force   succeed when the credential does not exist`,
  exists: `Usage: nebula-credential exists <id>

Prints nothing. Exit status 0 when the credential exists, 1 when it does not, another status on error.
Needs no key.`,
  init: `Usage: nebula-credential init [--passphrase] [--dir path]

Sets up the local default in ~/.nebula (mode 0700):
  ~/.nebula/credentials      the local provider's directory (or --dir)
  ~/.nebula/key              a random 256-bit key, mode 0600 (default), or
  ~/.nebula/passphrase.json  with --passphrase: Argon2id parameters, a random salt and a key check,
                             mode 0600; the passphrase comes from NEBULA_CREDENTIAL_PASSPHRASE or a prompt
                             and is asked for by every command that encrypts or decrypts
  ~/.nebula/config.json      {"provider": "local", "directory": ..., "encryption": ...}: edit it to switch
                             backend
Running init again with the same choice does nothing; it never overwrites a key.

Options:
  --passphrase   derive the key from a passphrase instead of creating a key file
  --dir <path>   put the credentials somewhere else`,
  copy: `Usage: nebula-credential copy --from <config> --to <config> [--tag key=value]... [--dry-run] [--json]

Copies credentials, with their metadata, from one backend to another, and reads each one back to verify
it. <config> is a JSON file or inline JSON, as for --config. When both sides use the same key (the
usual case), the ciphertext is copied as it is and the value is never decrypted; when the "encryption"
members differ, each value is decrypted with the source key and encrypted with the destination key.

Credentials already identical at the destination are skipped, so re-running after a failure is safe.
The first failure stops the copy; the summary names what was copied, what failed, and what was not
attempted. A progress bar is shown when standard error is a terminal.

Options:
  --from <config>      source backend
  --to <config>        destination backend
  -t, --tag key=value  only credentials with this tag (repeatable)
  --dry-run            show what would be copied; write nothing
  --json               print the summary as JSON`,
  emulator: `Usage: nebula-credential emulator <aws|azure|vault|kubernetes> [--port N] [--http]

Starts a local emulator of the service (for development and tests; data lives in memory) and prints one
JSON line: the endpoint, test credentials and "config", the config that connects to it (usable as
--config). Runs until Ctrl-C or SIGTERM.

Options:
  -p, --port N   listen on this port (default: a free one)
  --http         serve plain http where the service allows it (aws, vault)`,
};

/** Help for the program or one command. */
export function helpText(command?: CommandName): string {
  if (command === undefined || command === 'help') return MAIN;
  return `${COMMANDS[command]}\n\n${BACKEND}\n\nExit status:\n${exitCodeTable()}\n`;
}
