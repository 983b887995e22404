import { promises as fsp } from 'node:fs';
import { userInfo } from 'node:os';
import { StorageError } from '../core/errors.js';

/** How a permission check reports: the current uid, the error to throw, the warning to log. */
export interface PermissionReporter {
  uid: number | undefined;
  refuse(why: string): StorageError;
  warn(mode: string): void;
}

/** `0644` style. */
export function octal(mode: number): string {
  return `0${mode.toString(8).padStart(3, '0')}`;
}

/**
 * The credential directory must belong to this user and be writable by nobody else: others could have
 * planted or swapped files already, and tightening would bless whatever they left, so that is refused.
 * Readable by others (0755) only leaks ids: tightened to 0700 under policy 'fix'.
 */
export async function checkDirectoryMode(
  dir: string,
  stat: { mode: number; uid: number },
  policy: 'fix' | 'refuse',
  report: PermissionReporter,
): Promise<void> {
  if (report.uid !== undefined && stat.uid !== report.uid) {
    throw report.refuse(
      `the credential directory ${dir} belongs to uid ${stat.uid}, not to this user (uid ${report.uid})`,
    );
  }
  const bits = stat.mode & 0o777;
  if (bits & 0o022) {
    throw report.refuse(
      `the credential directory ${dir} has mode ${octal(bits)} and is writable by group or others; check its contents, then chmod 700 it`,
    );
  }
  if (bits !== 0o700) {
    if (policy === 'refuse' || (bits & 0o700) !== 0o700) {
      throw report.refuse(`the credential directory ${dir} has mode ${octal(bits)}, not 0700; chmod 700 it`);
    }
    await fsp.chmod(dir, 0o700);
    report.warn(octal(bits));
  }
}

/**
 * A credential file must belong to this user and be writable by nobody else (its metadata is not
 * authenticated). Readable by others (0644) is tightened to 0600 through the open descriptor under policy
 * 'fix', so nothing can be swapped in between. No-op on Windows, where the directory ACL protects files.
 */
export async function checkFileMode(
  handle: fsp.FileHandle,
  stat: { mode: number; uid: number },
  policy: 'fix' | 'refuse',
  report: PermissionReporter,
): Promise<void> {
  if (report.uid !== undefined && stat.uid !== report.uid) {
    throw report.refuse(`the credential file belongs to uid ${stat.uid}, not to this user`);
  }
  if (process.platform === 'win32') return;
  const mode = stat.mode & 0o777;
  if (mode & 0o022) {
    throw report.refuse(
      `the credential file has mode ${octal(mode)} and is writable by group or others, so it may have been altered; check it, then chmod 600 it`,
    );
  }
  if (mode & 0o077) {
    if (policy === 'refuse')
      throw report.refuse(`the credential file has mode ${octal(mode)}, not 0600; chmod 600 it`);
    await handle.chmod(0o600);
    report.warn(octal(mode));
  }
}

/**
 * The `icacls` command that restricts `path` to one user, removing inherited entries: the directory gets
 * full control for the user, inherited by every file created in it (OI/CI), so files need no command of
 * their own. Returned as argv (no shell).
 *
 * @example
 * ```ts
 * import { icaclsRestrictCommand } from 'nebula-credential/local';
 * icaclsRestrictCommand('C:\\Users\\ada\\.nebula\\credentials', 'CONTOSO\\ada');
 * // ['icacls', 'C:\\Users\\ada\\.nebula\\credentials', '/inheritance:r', '/grant:r', 'CONTOSO\\ada:(OI)(CI)F', '/q']
 * ```
 */
export function icaclsRestrictCommand(
  path: string,
  user: string,
  kind: 'directory' | 'file' = 'directory',
): string[] {
  if (user.length === 0 || /[\0\r\n]/.test(user)) throw new TypeError('icacls: invalid user name');
  if (path.length === 0 || path.includes('\0')) throw new TypeError('icacls: invalid path');
  const grant = kind === 'directory' ? `${user}:(OI)(CI)F` : `${user}:F`;
  return ['icacls', path, '/inheritance:r', '/grant:r', grant, '/q'];
}

/**
 * The Windows account to grant: `DOMAIN\user` from the environment, else the bare user name.
 *
 * @example
 * ```ts
 * import { windowsAccount } from 'nebula-credential/local';
 * windowsAccount({ USERDOMAIN: 'CONTOSO' }, 'ada'); // 'CONTOSO\\ada'
 * ```
 */
export function windowsAccount(env: NodeJS.ProcessEnv, username: string): string {
  const domain = env['USERDOMAIN'];
  return domain ? `${domain}\\${username}` : username;
}

/** Restricts `dir` to the current user with icacls (Windows only). */
export async function restrictWindowsAcl(dir: string): Promise<void> {
  const [command, ...args] = icaclsRestrictCommand(dir, windowsAccount(process.env, userInfo().username));
  // Loaded here, on Windows only: child_process drags in net and dgram, which every other start would pay for.
  const { execFile } = await import('node:child_process');
  await new Promise<void>((resolveRun, reject) => {
    execFile(command!, args, { windowsHide: true, timeout: 1500 }, (error) => {
      if (!error) resolveRun();
      else
        reject(
          new StorageError({
            code: 'InvalidConfig',
            message: `could not restrict the credential directory ${dir} to the current user with icacls; check that you own it`,
            provider: 'local',
            operation: 'connect',
            cause: error,
          }),
        );
    });
  });
}
