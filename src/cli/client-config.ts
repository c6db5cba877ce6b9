/**
 * Where the client commands (`submit`, `watch`, `jobs`, …) find the API and their key. Each of the
 * two comes from the first place that has it:
 *
 *   1. the flags `--api URL`, `--key KEY`;
 *   2. the environment: `MALAN_API_URL`, `MALAN_API_KEY`;
 *   3. the config file `${XDG_CONFIG_HOME:-~/.config}/malan/config.json`
 *      (`{"api_url": "…", "api_key": "…"}`, written by `malan login`), refused when anyone but its
 *      owner may read or change it, since it holds a key;
 *   4. for the URL only: a `malan serve` running under MALAN_HOME (its `serve.json` says `baseUrl`).
 *
 * The client speaks HTTP to any host and never opens the farm's database or reads its secret.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

export interface ClientConfig {
  /** The API's root, without a trailing slash: `http://127.0.0.1:8080`. */
  apiUrl: string;
  key: string;
  /** Where each came from, said in errors (`--api`, `MALAN_API_URL`, the config file's path, …). */
  apiUrlFrom: string;
  keyFrom: string;
}

/** A problem with the client's configuration: printed as is, exit status 1. */
export class ClientConfigError extends Error {}

type Env = Record<string, string | undefined>;

const configFileSchema = z.object({
  api_url: z.string({ error: 'api_url must be a string' }).optional(),
  api_key: z.string({ error: 'api_key must be a string' }).optional(),
});
export type ConfigFile = z.infer<typeof configFileSchema>;

export function configFilePath(env: Env = process.env): string {
  // XDG: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME && path.isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
  return path.join(xdg ?? path.join(env.HOME || os.homedir(), '.config'), 'malan', 'config.json');
}

/** The config file's contents; null when there is none. */
export function readConfigFile(file: string): ConfigFile | null {
  let mode: number;
  try {
    mode = statSync(file).mode;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ClientConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (process.platform !== 'win32' && (mode & 0o077) !== 0) {
    throw new ClientConfigError(
      `${file} holds an API key but is open to other users (mode ${(mode & 0o777).toString(8)}); ` +
        `not reading it. Make it yours alone: chmod 600 ${file}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ClientConfigError(`${file} is not valid JSON (${(err as Error).message}); write it again with \`malan login --api URL --key KEY\``);
  }
  const checked = configFileSchema.safeParse(parsed);
  if (!checked.success) throw new ClientConfigError(`${file}: ${checked.error.issues.map((i) => i.message).join('; ')}`);
  return checked.data;
}

/** Writes the config file with mode 0600 (its folder 0700), atomically: a reader never sees half of it. */
export function writeConfigFile(file: string, contents: Required<ConfigFile>): void {
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify(contents, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}

/** The `baseUrl` of a `malan serve` running under `home`, or null when none runs there. */
export function runningServeUrl(home: string): string | null {
  let state: { pid?: unknown; baseUrl?: unknown };
  try {
    state = JSON.parse(readFileSync(path.join(home, 'serve.json'), 'utf8')) as typeof state;
  } catch {
    return null;
  }
  if (typeof state.baseUrl !== 'string' || typeof state.pid !== 'number') return null;
  return isAlive(state.pid) ? state.baseUrl : null; // a serve that died leaves its serve.json behind
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // there, but another user's
  }
}

/** `http://host:8080/` → `http://host:8080`; anything but an http(s) URL is refused, naming where it came from. */
export function normalizeApiUrl(url: string, from: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ClientConfigError(`the API URL from ${from} is not a URL: '${url}' (expected e.g. http://127.0.0.1:8080)`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ClientConfigError(`the API URL from ${from} must be http:// or https://, got '${url}'`);
  return url.replace(/\/+$/, '');
}

/** The API URL alone (for `login`, which brings its own key): flags, env, config file, running serve. */
export function resolveApiUrl(flags: { api?: string }, env: Env = process.env): { url: string; from: string } | null {
  const found = firstOf([
    () => flags.api && { value: flags.api, from: '--api' },
    () => env.MALAN_API_URL && { value: env.MALAN_API_URL, from: 'MALAN_API_URL' },
    () => {
      const file = configFilePath(env);
      const url = readConfigFile(file)?.api_url;
      return url && { value: url, from: file };
    },
    () => {
      const home = path.resolve(env.MALAN_HOME || '.malan');
      const url = runningServeUrl(home);
      return url && { value: url, from: `the malan serve running under ${home}` };
    },
  ]);
  return found && { url: normalizeApiUrl(found.value, found.from), from: found.from };
}

export function resolveClientConfig(flags: { api?: string; key?: string }, env: Env = process.env): ClientConfig {
  const file = configFilePath(env);
  const key = firstOf([
    () => flags.key && { value: flags.key, from: '--key' },
    () => env.MALAN_API_KEY && { value: env.MALAN_API_KEY, from: 'MALAN_API_KEY' },
    () => {
      const k = readConfigFile(file)?.api_key;
      return k && { value: k, from: file };
    },
  ]);
  if (!key) {
    throw new ClientConfigError(
      `no API key: pass --key KEY, set MALAN_API_KEY, or save one with \`malan login --api URL --key KEY\` (it writes ${file}). ` +
        'An operator makes keys with `malan keys create --tenant NAME`.',
    );
  }
  const api = resolveApiUrl(flags, env);
  if (!api) {
    throw new ClientConfigError(
      `no API URL: pass --api URL, set MALAN_API_URL, or save one with \`malan login --api URL --key KEY\` (it writes ${file}); ` +
        `no malan serve runs under MALAN_HOME=${path.resolve(env.MALAN_HOME || '.malan')} either.`,
    );
  }
  return { apiUrl: api.url, key: key.value, apiUrlFrom: api.from, keyFrom: key.from };
}

/** The first source that has a value; later ones (the config file, serve.json) are not even read. */
function firstOf(sources: Array<() => { value: string; from: string } | '' | null | undefined>): { value: string; from: string } | null {
  for (const source of sources) {
    const found = source();
    if (found) return found;
  }
  return null;
}
