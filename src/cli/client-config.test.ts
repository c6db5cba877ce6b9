import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { configFilePath, normalizeApiUrl, readConfigFile, resolveClientConfig, runningServeUrl, writeConfigFile } from './client-config.js';

/** A fresh HOME, XDG_CONFIG_HOME and MALAN_HOME: nothing from this machine leaks in. */
function world() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'malan-client-config-'));
  const env: Record<string, string> = { HOME: path.join(root, 'home'), XDG_CONFIG_HOME: path.join(root, 'xdg'), MALAN_HOME: path.join(root, 'malan') };
  mkdirSync(env.MALAN_HOME!, { recursive: true });
  const file = path.join(root, 'xdg', 'malan', 'config.json');
  const writeFile = (contents: unknown, mode = 0o600) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(contents));
    chmodSync(file, mode);
  };
  const writeServe = (pid: number, baseUrl = 'http://127.0.0.1:41234') => writeFileSync(path.join(env.MALAN_HOME!, 'serve.json'), JSON.stringify({ pid, port: 41234, baseUrl }));
  return { root, env, file, writeFile, writeServe };
}

const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('resolveClientConfig', () => {
  it('takes each of URL and key from flags, then the environment, then the config file', () => {
    const w = world();
    w.writeFile({ api_url: 'http://file.example:8080', api_key: 'mk_file' });
    w.writeServe(process.pid);
    const env = { ...w.env, MALAN_API_URL: 'http://env.example:8080', MALAN_API_KEY: 'mk_env' };
    expect(resolveClientConfig({ api: 'http://flag.example:8080/', key: 'mk_flag' }, env)).toEqual({ apiUrl: 'http://flag.example:8080', key: 'mk_flag', apiUrlFrom: '--api', keyFrom: '--key' });
    expect(resolveClientConfig({}, env)).toEqual({ apiUrl: 'http://env.example:8080', key: 'mk_env', apiUrlFrom: 'MALAN_API_URL', keyFrom: 'MALAN_API_KEY' });
    expect(resolveClientConfig({}, w.env)).toEqual({ apiUrl: 'http://file.example:8080', key: 'mk_file', apiUrlFrom: w.file, keyFrom: w.file });
    // Each on its own: a flag for one, the file for the other.
    expect(resolveClientConfig({ key: 'mk_flag' }, w.env)).toMatchObject({ apiUrl: 'http://file.example:8080', key: 'mk_flag' });
    expect(resolveClientConfig({}, { ...w.env, MALAN_API_URL: 'http://env.example:8080' })).toMatchObject({ apiUrl: 'http://env.example:8080', key: 'mk_file' });
  });

  it("falls back to the running serve's baseUrl for the URL (never for the key)", () => {
    const w = world();
    w.writeServe(process.pid, 'http://127.0.0.1:41234');
    expect(resolveClientConfig({}, { ...w.env, MALAN_API_KEY: 'mk_env' })).toEqual({
      apiUrl: 'http://127.0.0.1:41234',
      key: 'mk_env',
      apiUrlFrom: `the malan serve running under ${w.env.MALAN_HOME}`,
      keyFrom: 'MALAN_API_KEY',
    });
    w.writeFile({ api_url: 'http://file.example:8080' });
    expect(resolveClientConfig({}, { ...w.env, MALAN_API_KEY: 'mk_env' }).apiUrl).toBe('http://file.example:8080'); // the file comes first
    expect(() => resolveClientConfig({}, w.env)).toThrow(/no API key/);
  });

  it('ignores the serve.json of a serve that is gone, or one without baseUrl', () => {
    const w = world();
    w.writeServe(deadPid());
    expect(runningServeUrl(w.env.MALAN_HOME!)).toBeNull();
    expect(() => resolveClientConfig({}, { ...w.env, MALAN_API_KEY: 'mk_env' })).toThrow(/no API URL: pass --api URL, set MALAN_API_URL.*no malan serve runs under MALAN_HOME=/);
    writeFileSync(path.join(w.env.MALAN_HOME!, 'serve.json'), JSON.stringify({ pid: process.pid, port: 1 }));
    expect(runningServeUrl(w.env.MALAN_HOME!)).toBeNull();
    writeFileSync(path.join(w.env.MALAN_HOME!, 'serve.json'), '{not json');
    expect(runningServeUrl(w.env.MALAN_HOME!)).toBeNull();
  });

  it('says what to set when there is no key anywhere', () => {
    const w = world();
    w.writeServe(process.pid);
    let message = '';
    try {
      resolveClientConfig({}, w.env);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('no API key: pass --key KEY, set MALAN_API_KEY, or save one with `malan login --api URL --key KEY`');
    expect(message).toContain(w.file);
  });

  it('refuses a config file that others may read, saying chmod 600 and its path', () => {
    const w = world();
    for (const mode of [0o644, 0o640, 0o604, 0o660]) {
      w.writeFile({ api_url: 'http://file.example:8080', api_key: 'mk_file' }, mode);
      expect(() => resolveClientConfig({}, w.env), mode.toString(8)).toThrow(`chmod 600 ${w.file}`);
    }
    // Not even read when the flags and the environment say everything.
    expect(resolveClientConfig({ api: 'http://flag.example:8080' }, { ...w.env, MALAN_API_KEY: 'mk_env' }).key).toBe('mk_env');
    chmodSync(w.file, 0o600);
    expect(resolveClientConfig({}, w.env).key).toBe('mk_file');
    chmodSync(w.file, 0o400);
    expect(resolveClientConfig({}, w.env).key).toBe('mk_file');
  });

  it('says what is wrong with a config file that is not JSON or has the wrong types', () => {
    const w = world();
    w.writeFile({ api_key: 42 });
    expect(() => readConfigFile(w.file)).toThrow(/api_key must be a string/);
    writeFileSync(w.file, '{"api_key": ');
    expect(() => readConfigFile(w.file)).toThrow(/is not valid JSON/);
    expect(readConfigFile(path.join(w.root, 'none.json'))).toBeNull();
  });

  it('refuses an API URL that is not http(s), naming where it came from', () => {
    expect(() => resolveClientConfig({ api: 'ftp://x', key: 'k' }, {})).toThrow(/the API URL from --api must be http:\/\/ or https:\/\//);
    expect(() => resolveClientConfig({ key: 'k' }, { MALAN_API_URL: 'farm:8080x' })).toThrow(/from MALAN_API_URL/);
    expect(normalizeApiUrl('https://farm.example/', 'x')).toBe('https://farm.example');
  });
});

describe('the config file', () => {
  it('lives under XDG_CONFIG_HOME, else ~/.config (a relative XDG_CONFIG_HOME is ignored)', () => {
    expect(configFilePath({ XDG_CONFIG_HOME: '/x/conf', HOME: '/home/a' })).toBe('/x/conf/malan/config.json');
    expect(configFilePath({ HOME: '/home/a' })).toBe('/home/a/.config/malan/config.json');
    expect(configFilePath({ XDG_CONFIG_HOME: 'rel', HOME: '/home/a' })).toBe('/home/a/.config/malan/config.json');
  });

  it('is written with mode 0600, replacing one that was open to others', () => {
    const w = world();
    w.writeFile({ api_url: 'http://old.example' }, 0o644);
    writeConfigFile(w.file, { api_url: 'http://farm.example:8080', api_key: 'mk_saved' });
    expect(statSync(w.file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(w.file, 'utf8'))).toEqual({ api_url: 'http://farm.example:8080', api_key: 'mk_saved' });
    expect(resolveClientConfig({}, w.env)).toMatchObject({ apiUrl: 'http://farm.example:8080', key: 'mk_saved' });
    const fresh = path.join(w.root, 'new', 'malan', 'config.json');
    writeConfigFile(fresh, { api_url: 'http://a', api_key: 'b' });
    expect(statSync(fresh).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(fresh)).mode & 0o777).toBe(0o700);
  });
});
