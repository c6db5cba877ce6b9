/**
 * Renderer templates: how an operator adds a renderer without code. A small subset in the spirit
 * of OpenJD (https://github.com/OpenJobDescription/openjd-specifications): typed parameters, one
 * command as an argv array with {{…}} placeholders, host requirements. A placeholder only ever
 * fills part of one argv token; nothing is split, joined or handed to a shell. All that can be
 * wrong with a template is refused when it is created, so expansion on a worker cannot fail on
 * the template's account.
 */
import { z } from 'zod';
import { formatIssues } from '../../services/format-issues.js';
import { timeoutSecondsSchema } from '../common-schemas.js';
import { requirementsSchema } from './spec.js';

export const PARAMETER_TYPES = ['STRING', 'INT', 'FLOAT', 'BOOL'] as const;
export const OUTPUT_FORMATS = ['png', 'exr', 'jpg'] as const;
/** Operator regexes run on every submission: short ones only. */
export const MAX_PATTERN_LENGTH = 200;
export const MAX_STRING_VALUE = 1000;

/** A template, its command or a parameter declaration is not acceptable: the API answers 400. Messages never contain "; ", which joins them. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}
/** A job's parameter values do not fit its template. A subclass, so one catch covers both. */
export class ParameterError extends TemplateError {
  constructor(message: string) {
    super(message);
    this.name = 'ParameterError';
  }
}

/**
 * Every placeholder, and every `{{` or `}}` that does not belong to one, in one pass: a `stray`
 * match is an error, so nothing that looks like a placeholder passes through unexpanded.
 */
const PLACEHOLDER =
  /\{\{(?:Param\.(?<param>[a-z][a-z0-9_]{0,62})|Task\.(?:(?<frame>Frame)(?::0(?<width>[1-9]))?|(?<range>FrameStart|FrameEnd|FrameStep)|(?<path>OutputDir|Scene)|(?<pattern>OutputPattern)(?<printf>:printf)?))\}\}|(?<stray>\{\{|\}\})/g;
const KNOWN_PLACEHOLDERS =
  '{{Param.<name>}}, {{Task.Frame}}, {{Task.Frame:0N}}, {{Task.FrameStart}}, {{Task.FrameEnd}}, {{Task.FrameStep}}, {{Task.OutputDir}}, {{Task.Scene}}, {{Task.OutputPattern}}, {{Task.OutputPattern:printf}}';

type Placeholder =
  | { kind: 'param'; name: string }
  | { kind: 'frame'; width: number }
  | { kind: 'range'; name: 'FrameStart' | 'FrameEnd' | 'FrameStep' }
  | { kind: 'path'; name: 'OutputDir' | 'Scene' }
  | { kind: 'pattern'; printf: boolean }
  | { kind: 'stray' };

function readPlaceholder(m: RegExpMatchArray): Placeholder {
  const g = m.groups ?? {};
  if (g.param !== undefined) return { kind: 'param', name: g.param };
  if (g.frame !== undefined) return { kind: 'frame', width: Number(g.width ?? 0) };
  if (g.range !== undefined) return { kind: 'range', name: g.range as 'FrameStart' | 'FrameEnd' | 'FrameStep' };
  if (g.path !== undefined) return { kind: 'path', name: g.path as 'OutputDir' | 'Scene' };
  if (g.pattern !== undefined) return { kind: 'pattern', printf: g.printf !== undefined };
  return { kind: 'stray' };
}

/** Each placeholder of a token with its 0-based offset. */
function placeholders(token: string): { at: number; text: string; p: Placeholder }[] {
  return [...token.matchAll(PLACEHOLDER)].map((m) => ({ at: m.index ?? 0, text: m[0], p: readPlaceholder(m) }));
}

/** What is wrong at a stray `{{` or `}}`, in words that show the person the text they wrote. */
function strayProblem(token: string, at: number): string {
  const where = `at character ${at + 1}`;
  if (token.startsWith('}}', at)) return `"}}" ${where} closes no placeholder`;
  const close = token.indexOf('}}', at + 2);
  if (close < 0) return `"{{" ${where} is never closed with "}}" (placeholders are ${KNOWN_PLACEHOLDERS})`;
  const text = token.slice(at, close + 2);
  if (text === '{{}}') return `empty placeholder "{{}}" ${where}`;
  if (/\s/.test(text)) return `malformed placeholder "${text}" ${where}: no spaces inside {{ }}`;
  return `unknown placeholder "${text.length > 80 ? `${text.slice(0, 77)}...` : text}" ${where} (known: ${KNOWN_PLACEHOLDERS})`;
}

/** Programs that would read a token as a script: parameter values would then reach a shell. */
const SHELLS = new Set(['sh', 'bash', 'dash', 'ash', 'zsh', 'ksh', 'mksh', 'csh', 'tcsh', 'fish', 'busybox', 'env', 'cmd', 'cmd.exe', 'powershell', 'pwsh']);
const BARE_EXECUTABLE = /^[A-Za-z0-9_][A-Za-z0-9._+-]*$/;
const ABSOLUTE_EXECUTABLE = /^(?:\/[^/\u0000]+)+$/;

function executableProblem(exe: string): string | undefined {
  if (/\{\{|\}\}/.test(exe)) return 'command[0] is the executable and takes no placeholders';
  const absolute = ABSOLUTE_EXECUTABLE.test(exe) && !exe.split('/').some((s) => s === '.' || s === '..');
  if (!absolute && !BARE_EXECUTABLE.test(exe)) {
    return `command[0] "${exe}" must be a program name looked up on PATH (e.g. "ffmpeg") or an absolute path without . or .. segments`;
  }
  const base = exe.slice(exe.lastIndexOf('/') + 1);
  if (SHELLS.has(base)) {
    return `command[0] "${exe}" is a shell: templates run the renderer directly so parameter values never reach a shell (put shell logic in a script on the worker and name the script)`;
  }
  return undefined;
}

/** Per-token checks that need nothing but the command. */
function commandProblems(command: string[], ctx: z.RefinementCtx) {
  command.forEach((token, i) => {
    if (token.includes('\u0000')) ctx.addIssue({ code: 'custom', path: [i], message: 'an argv token cannot carry a NUL character' });
    if (i === 0) {
      const problem = executableProblem(token);
      if (problem) ctx.addIssue({ code: 'custom', path: [0], message: problem });
      return;
    }
    // The first stray per token only: the "}}" after an unknown "{{…" is the same mistake.
    const stray = placeholders(token).find(({ p }) => p.kind === 'stray');
    if (stray) ctx.addIssue({ code: 'custom', path: [i], message: strayProblem(token, stray.at) });
  });
}

const OUTPUT_SEGMENT = /^[A-Za-z0-9_#][A-Za-z0-9._#-]*$/;
const EXTENSIONS: Record<(typeof OUTPUT_FORMATS)[number], string[]> = { png: ['.png'], exr: ['.exr'], jpg: ['.jpg', '.jpeg'] };

function outputPatternProblem(pattern: string, format: (typeof OUTPUT_FORMATS)[number]): string | undefined {
  if (pattern.startsWith('/')) return `"${pattern}" is absolute: give a file name inside the task's output directory, e.g. "frame_####.png"`;
  const segments = pattern.split('/');
  if (segments.includes('..')) return `"${pattern}" climbs out of the task's output directory with ".."`;
  if (segments.length > 4 || !segments.every((s) => OUTPUT_SEGMENT.test(s))) {
    return `"${pattern}": simple names only (letters, digits, _ . - #, not starting with "."), at most 4 separated by "/"`;
  }
  const runs = pattern.match(/#+/g) ?? [];
  if (runs.length !== 1 || segments.slice(0, -1).some((s) => s.includes('#'))) {
    return `"${pattern}" needs exactly one run of # in the file name for the frame number, e.g. "frame_####.png"`;
  }
  if ((runs[0] ?? '').length > 9) return `"${pattern}": at most 9 # (the frame number's width)`;
  if (!EXTENSIONS[format].some((ext) => pattern.toLowerCase().endsWith(ext))) return `"${pattern}" must end in ${EXTENSIONS[format].join(' or ')} for format ${format}`;
  return undefined;
}

const parameterValueSchema = z.union([z.string().max(MAX_STRING_VALUE), z.number(), z.boolean()], { error: 'a value is a string, a number or true/false' });
export type ParameterValue = z.infer<typeof parameterValueSchema>;

interface ParameterDeclaration {
  name: string;
  type: (typeof PARAMETER_TYPES)[number];
  allowed?: ParameterValue[] | undefined;
  min?: number | undefined;
  max?: number | undefined;
  pattern?: string | undefined;
}

/** Letters, digits and a few separators: what a title, a take name or a relative path needs. */
const SAFE_STRING = /^[\p{L}\p{M}\p{N} _.,:+=@%/-]*$/u;
const SAFE_STRING_WORDS = 'letters, digits, space and _ . , : + = @ % / -';

function typeProblem(type: ParameterDeclaration['type'], v: ParameterValue): string | undefined {
  switch (type) {
    case 'STRING': return typeof v === 'string' ? undefined : 'must be a string';
    case 'INT': return typeof v === 'number' && Number.isSafeInteger(v) ? undefined : 'must be a whole number';
    case 'FLOAT': return typeof v === 'number' && Number.isFinite(v) ? undefined : 'must be a finite number';
    case 'BOOL': return typeof v === 'boolean' ? undefined : 'must be true or false';
    default: {
      const unknown: never = type;
      return `has an unknown type ${String(unknown)}`;
    }
  }
}

/** `conservative`: the default character set applies (the template declared no pattern or list). */
function stringProblem(s: string, conservative: boolean): string | undefined {
  if (s.length > MAX_STRING_VALUE) return `is longer than ${MAX_STRING_VALUE} characters`;
  if (/[\u0000-\u001f\u007f]/.test(s)) return 'contains control characters';
  if (s.split(/[\\/]/).includes('..')) return 'contains a ".." path segment: values may not climb out of a directory';
  if (!conservative) return undefined;
  if (!SAFE_STRING.test(s)) {
    return `has characters outside ${SAFE_STRING_WORDS}: no shell ever runs, but values that look like shell syntax or path escapes are refused (a template may declare a pattern or an allowed list for other values)`;
  }
  if (s.startsWith('-')) return 'starts with "-", so the renderer would read it as an option';
  return undefined;
}

/** The operator's pattern must match the whole value; compiling the bare source first rejects e.g. "a)(b". */
function compilePattern(source: string): RegExp {
  new RegExp(source, 'u');
  return new RegExp(`^(?:${source})$`, 'u');
}

/** Why `v` does not fit `p`, or undefined. `membership: false` while checking the allowed list itself. */
function valueProblem(p: ParameterDeclaration, v: ParameterValue, membership = true): string | undefined {
  const typed = typeProblem(p.type, v);
  if (typed) return typed;
  if (typeof v === 'string') {
    const s = stringProblem(v, p.pattern === undefined && p.allowed === undefined);
    if (s) return s;
    if (p.pattern !== undefined && !compilePattern(p.pattern).test(v)) return `must match the pattern ${p.pattern}`;
  }
  if (typeof v === 'number' && p.min !== undefined && v < p.min) return `must be at least ${p.min}`;
  if (typeof v === 'number' && p.max !== undefined && v > p.max) return `must be at most ${p.max}`;
  if (membership && p.allowed && !p.allowed.includes(v)) return `must be one of ${p.allowed.map((a) => JSON.stringify(a)).join(', ')}`;
  return undefined;
}

function declarationProblems(p: ParameterDeclaration & { default?: ParameterValue | undefined; required?: boolean | undefined }, ctx: z.RefinementCtx) {
  const problem = (path: string, message: string) => ctx.addIssue({ code: 'custom', path: [path], message });
  const numeric = p.type === 'INT' || p.type === 'FLOAT';
  if (!numeric && (p.min !== undefined || p.max !== undefined)) problem(p.min !== undefined ? 'min' : 'max', 'min and max apply to INT and FLOAT parameters');
  if (p.min !== undefined && p.max !== undefined && p.min > p.max) problem('min', `min ${p.min} is above max ${p.max}`);
  if (p.pattern !== undefined) {
    if (p.type !== 'STRING') return problem('pattern', 'a pattern applies to STRING parameters');
    try {
      compilePattern(p.pattern);
    } catch (error) {
      return problem('pattern', `does not compile as a regular expression: ${(error as Error).message}`);
    }
  }
  if (p.allowed !== undefined && p.type === 'BOOL') problem('allowed', 'an allowed list applies to STRING, INT and FLOAT (a BOOL is true or false already)');
  else p.allowed?.forEach((v, i) => {
    const wrong = valueProblem(p, v, false);
    if (wrong) ctx.addIssue({ code: 'custom', path: ['allowed', i], message: `${JSON.stringify(v)} ${wrong}` });
  });
  if (p.default !== undefined) {
    const wrong = valueProblem(p, p.default);
    if (wrong) problem('default', `${JSON.stringify(p.default)} ${wrong}`);
    if (p.required === true) problem('required', 'a parameter with a default may always be left out: drop "required" or the default');
  }
}

const parameterSchema = z
  .strictObject({
    name: z.string({ error: 'name is required' }).regex(/^[a-z][a-z0-9_]{0,62}$/, { error: 'name: a lower-case identifier (a-z, 0-9, _) starting with a letter' }),
    type: z.enum(PARAMETER_TYPES, { error: `type must be one of ${PARAMETER_TYPES.join(', ')}` }),
    description: z.string().max(1000).optional(),
    default: parameterValueSchema.optional(),
    /** Defaults to true when there is no default. */
    required: z.boolean({ error: 'required must be true or false' }).optional(),
    allowed: z.array(parameterValueSchema).min(1).max(256).optional(),
    min: z.number({ error: 'min must be a number' }).optional(),
    max: z.number({ error: 'max must be a number' }).optional(),
    /** A JavaScript regular expression (u flag) the whole value must match. */
    pattern: z.string().min(1).max(MAX_PATTERN_LENGTH, { error: `pattern: at most ${MAX_PATTERN_LENGTH} characters` }).optional(),
  })
  .superRefine(declarationProblems)
  // Stored templates say whether each parameter is required, so reading one needs no rule.
  .transform((p) => ({ ...p, required: p.required ?? p.default === undefined }));

export const renderTemplateSchema = z
  .strictObject({
    name: z
      .string({ error: 'name is required' })
      .regex(/^[a-z][a-z0-9-]{1,62}$/, { error: 'name: lower-case letters, digits and -, 2 to 63 characters, starting with a letter' })
      .refine((n) => n !== 'blender', { error: 'name "blender" is the built-in renderer: give the template another name' }),
    description: z.string().max(2000).optional(),
    parameters: z
      .array(parameterSchema)
      .max(64)
      .default([])
      .superRefine((ps, ctx) => {
        const seen = new Set<string>();
        ps.forEach((p, i) => {
          if (seen.has(p.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `parameter "${p.name}" is declared twice` });
          seen.add(p.name);
        });
      }),
    /** argv: command[0] is the program, each later token one argument. */
    command: z
      .array(z.string({ error: 'command tokens are strings' }).max(4096, { error: 'a command token is at most 4096 characters' }), { error: 'command must be an array of strings (argv)' })
      .min(1, { error: 'command must name a program' })
      .max(200, { error: 'command: at most 200 tokens' })
      .superRefine(commandProblems),
    /** Run the command once per frame, or once per chunk of frames. */
    per: z.enum(['frame', 'chunk'], { error: 'per must be "frame" or "chunk"' }),
    outputs: z
      .strictObject({
        /** A file name inside the task's output directory; #### is the zero-padded frame number. */
        pattern: z.string({ error: 'outputs.pattern is required, e.g. "frame_####.png"' }).max(255),
        format: z.enum(OUTPUT_FORMATS, { error: `outputs.format must be one of ${OUTPUT_FORMATS.join(', ')}` }),
      })
      .superRefine((o, ctx) => {
        const problem = outputPatternProblem(o.pattern, o.format);
        if (problem) ctx.addIssue({ code: 'custom', path: ['pattern'], message: problem });
      }),
    host_requirements: requirementsSchema.optional(),
    timeout_seconds: timeoutSecondsSchema.optional(),
  })
  .superRefine((t, ctx) => {
    const declared = new Set(t.parameters.map((p) => p.name));
    let usesFrame = false;
    let usesFrameStart = false;
    t.command.forEach((token, i) => {
      if (i === 0) return;
      for (const { at, text, p } of placeholders(token)) {
        usesFrame ||= p.kind === 'frame';
        usesFrameStart ||= p.kind === 'range' && p.name === 'FrameStart';
        const where = `"${text}" at character ${at + 1}`;
        if (p.kind === 'param' && !declared.has(p.name)) {
          ctx.addIssue({ code: 'custom', path: ['command', i], message: `${where} names no declared parameter (declared: ${[...declared].join(', ') || 'none'})` });
        }
        if (p.kind === 'frame' && t.per === 'chunk') {
          ctx.addIssue({ code: 'custom', path: ['command', i], message: `${where}: a per "chunk" template runs once per chunk of frames (use {{Task.FrameStart}} and {{Task.FrameEnd}})` });
        }
      }
    });
    // Without these every task would render the same frames.
    if (t.per === 'frame' && !usesFrame) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a per "frame" template runs once per frame, so its command must say which with {{Task.Frame}} or {{Task.Frame:0N}}' });
    }
    if (t.per === 'chunk' && !usesFrameStart) {
      ctx.addIssue({ code: 'custom', path: ['command'], message: 'a per "chunk" template must say where its chunk starts with {{Task.FrameStart}}' });
    }
  });

export type RenderTemplate = z.output<typeof renderTemplateSchema>;
export type RenderTemplateInput = z.input<typeof renderTemplateSchema>;
export type TemplateParameter = RenderTemplate['parameters'][number];

/** What one task's command is expanded with. `frame` is set for per-frame templates. */
export interface TaskContext {
  frame?: number;
  frameStart: number;
  frameEnd: number;
  frameStep: number;
  outputDir: string;
  /** The input file's path on the worker. */
  scene: string;
}

/** An operator's template as POSTed, validated; throws TemplateError naming every problem. */
export function parseTemplate(body: unknown): RenderTemplate {
  const result = renderTemplateSchema.safeParse(body);
  if (!result.success) throw new TemplateError(`invalid renderer template: ${formatIssues(result.error)}`);
  return result.data;
}

/** A job's parameter values checked against its template, defaults applied, as argv strings. */
export function checkParameters(template: RenderTemplate, values: Record<string, ParameterValue> | undefined): Record<string, string> {
  const given = values ?? {};
  const declared = new Set(template.parameters.map((p) => p.name));
  const problems = Object.keys(given)
    .filter((name) => !declared.has(name))
    .map((name) => `parameters.${name}: template "${template.name}" has no such parameter (it takes ${[...declared].join(', ') || 'none'})`);
  const resolved: Record<string, string> = {};
  for (const p of template.parameters) {
    const value = Object.hasOwn(given, p.name) ? given[p.name] : p.default;
    if (value === undefined) {
      if (p.required) problems.push(`parameters.${p.name}: is required${p.description ? ` (${p.description})` : ''}`);
      continue;
    }
    const problem = valueProblem(p, value);
    if (problem) problems.push(`parameters.${p.name}: ${problem}`);
    else resolved[p.name] = typeof value === 'string' ? value : String(value);
  }
  if (problems.length > 0) throw new ParameterError(problems.join('; '));
  return resolved;
}

/**
 * The argv of one task (one frame's for per-frame templates): each token's placeholders filled in
 * place, in one pass, so a value is never split, joined or expanded again. An optional parameter
 * left out fills its placeholders with nothing.
 */
export function expandCommand(template: RenderTemplate, values: Record<string, string>, task: TaskContext): string[] {
  const dir = task.outputDir.replace(/\/+$/, '');
  const fillOne = (p: Placeholder, text: string): string => {
    switch (p.kind) {
      case 'param': {
        if (Object.hasOwn(values, p.name)) return values[p.name] ?? '';
        if (template.parameters.some((d) => d.name === p.name && !d.required)) return '';
        throw new Error(`expandCommand: parameter "${p.name}" has no value (resolve values with checkParameters first)`);
      }
      case 'frame':
        if (task.frame === undefined) throw new Error(`expandCommand: ${text} needs task.frame`);
        return String(task.frame).padStart(p.width, '0');
      case 'range':
        return String(p.name === 'FrameStart' ? task.frameStart : p.name === 'FrameEnd' ? task.frameEnd : task.frameStep);
      case 'path':
        return p.name === 'OutputDir' ? task.outputDir : task.scene;
      case 'pattern':
        return `${dir}/${p.printf ? template.outputs.pattern.replace(/#+/, (h) => `%0${h.length}d`) : template.outputs.pattern}`;
      case 'stray':
        throw new TemplateError(`template "${template.name}" was not validated: stray "${text}" in its command`);
      default: {
        const unknown: never = p;
        throw new Error(`expandCommand: unknown placeholder ${JSON.stringify(unknown)}`);
      }
    }
  };
  return template.command.map((token, i) => {
    if (i === 0) return token;
    let out = '';
    let last = 0;
    for (const { at, text, p } of placeholders(token)) {
      out += token.slice(last, at) + fillOne(p, text);
      last = at + text.length;
    }
    return out + token.slice(last);
  });
}

/** The file a frame's output is expected in, relative to the task's output directory. */
export function outputName(template: RenderTemplate, frame: number): string {
  return template.outputs.pattern.replace(/#+/, (h) => String(frame).padStart(h.length, '0'));
}
