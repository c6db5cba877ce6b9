/**
 * A job's input as `malan submit` builds it, before anything is uploaded: the `--input` file's
 * object, each `--set a.b=value` applied on top, and `@1`, `@2` … standing for the `--file`s in
 * order (replaced by their file ids once uploaded). Checked against the kind's own schema (the one
 * the API and the worker use) so a typo fails here, not after a 20 GB upload.
 */
import { formatIssues } from '../services/format-issues.js';
import { isJobKind, JOB_KINDS, kindDefinition, KINDS_ELSEWHERE, type JobKind } from '../jobs/registry.js';
import { UsageError } from './usage-error.js';

const FILE_REF = /^@([1-9][0-9]*)$/;
/** Stands in for an upload's id while the input is checked: a well-formed id no file has. */
const PLACEHOLDER_FILE_ID = `file_${'0'.repeat(26)}`;
const FORBIDDEN_KEYS = new Set(['__proto__', 'prototype', 'constructor']);

export function checkKind(kind: string | undefined): JobKind {
  if (kind === undefined) throw new UsageError(`submit needs a kind: one of ${JOB_KINDS.join(', ')}`);
  if (isJobKind(kind)) return kind;
  const later = KINDS_ELSEWHERE[kind] ? ` (${KINDS_ELSEWHERE[kind]})` : '';
  throw new UsageError(`unknown kind '${kind}'${later}; one of ${JOB_KINDS.join(', ')}`);
}

/** `source.file=@1` → path `["source", "file"]`, value `"@1"`; values are JSON when they parse (240, true, {"a":1}), else strings. */
export function parseSetFlag(flag: string): { path: string[]; value: unknown } {
  const eq = flag.indexOf('=');
  if (eq < 0) throw new UsageError(`--set needs key=value (e.g. --set height=720), got '${flag}'`);
  const key = flag.slice(0, eq);
  const path = key.split('.');
  if (path.some((p) => p === '')) throw new UsageError(`--set ${flag}: '${key}' is not a dotted path like source.file`);
  const bad = path.find((p) => FORBIDDEN_KEYS.has(p));
  if (bad) throw new UsageError(`--set ${flag}: '${bad}' cannot be a key`);
  const raw = flag.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    /* a plain string: --set preset=veryfast */
  }
  return { path, value };
}

export function buildInput(base: unknown, sets: string[]): Record<string, unknown> {
  if (typeof base !== 'object' || base === null || Array.isArray(base)) throw new UsageError("--input must hold a JSON object: the job's input, e.g. {\"source\": {\"file\": \"@1\"}, \"height\": 720}");
  const input = structuredClone(base) as Record<string, unknown>;
  for (const flag of sets) {
    const { path, value } = parseSetFlag(flag);
    let at = input;
    for (const [i, key] of path.slice(0, -1).entries()) {
      const next = Object.hasOwn(at, key) ? at[key] : undefined;
      if (next === undefined) at = at[key] = {};
      else if (typeof next === 'object' && next !== null && !Array.isArray(next)) at = next as Record<string, unknown>;
      else throw new UsageError(`--set ${flag}: ${path.slice(0, i + 1).join('.')} is already ${JSON.stringify(next)}, not an object`);
    }
    at[path[path.length - 1]!] = value;
  }
  return input;
}

/** Every `@N` in the input, in the order met. */
export function fileRefs(input: unknown): number[] {
  if (typeof input === 'string') {
    const m = FILE_REF.exec(input);
    return m ? [Number(m[1])] : [];
  }
  if (typeof input !== 'object' || input === null) return [];
  return Object.values(input).flatMap(fileRefs);
}

/** The input with each `@N` replaced by `ids[N - 1]`. */
export function replaceFileRefs(input: unknown, ids: readonly string[]): unknown {
  if (typeof input === 'string') {
    const m = FILE_REF.exec(input);
    return m ? (ids[Number(m[1]) - 1] ?? input) : input;
  }
  if (Array.isArray(input)) return input.map((v) => replaceFileRefs(v, ids));
  if (typeof input === 'object' && input !== null) return Object.fromEntries(Object.entries(input).map(([k, v]) => [k, replaceFileRefs(v, ids)]));
  return input;
}

/** Refuses an `@N` without its `--file`, a `--file` the input never names, and input the kind's schema refuses. */
export function checkInput(kind: JobKind, input: Record<string, unknown>, files: readonly string[]): void {
  const refs = fileRefs(input);
  const missing = refs.find((n) => n > files.length);
  if (missing) throw new UsageError(`the input names @${missing} but ${files.length ? `only ${files.length} --file ${files.length === 1 ? 'was' : 'were'}` : 'no --file was'} given`);
  const unused = files.findIndex((_, i) => !refs.includes(i + 1));
  if (unused >= 0) throw new UsageError(`--file ${files[unused]} is @${unused + 1}, but the input never names it (e.g. --set ${kind === 'render' ? 'scene' : 'source'}.file=@${unused + 1})`);
  const checked = kindDefinition(kind).inputSchema.safeParse(replaceFileRefs(input, files.map(() => PLACEHOLDER_FILE_ID)));
  if (!checked.success) throw new UsageError(formatIssues(checked.error, 'input'));
}
