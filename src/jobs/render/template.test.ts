import { describe, expect, it } from 'vitest';
import {
  checkParameters,
  expandCommand,
  outputName,
  ParameterError,
  parseTemplate,
  renderTemplateSchema,
  TemplateError,
  type RenderTemplateInput,
  type TaskContext,
} from './template.js';

/** A renderer every worker has: ffmpeg's test source drawn at the requested size, one PNG per frame. */
const LAVFI: RenderTemplateInput = {
  name: 'ffmpeg-testsrc',
  description: 'ffmpeg test pattern, one frame per task',
  parameters: [
    { name: 'width', type: 'INT', default: 320, min: 16, max: 8192 },
    { name: 'height', type: 'INT', default: 240, min: 16, max: 8192 },
  ],
  command: ['ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s={{Param.width}}x{{Param.height}}:d=1', '-frames:v', '1', '-y', '{{Task.OutputDir}}/frame_{{Task.Frame:04}}.png'],
  per: 'frame',
  outputs: { pattern: 'frame_####.png', format: 'png' },
  host_requirements: { gpus: 0 },
};

/** A chunk renderer in the style of Arnold's kick: one process renders frames start..end. */
const CHUNKED: RenderTemplateInput = {
  name: 'studio-kick',
  parameters: [
    { name: 'camera', type: 'STRING', allowed: ['main', 'closeup'], default: 'main' },
    { name: 'samples', type: 'INT', min: 1, max: 4096 },
    { name: 'denoise', type: 'BOOL', default: false },
    { name: 'title', type: 'STRING', required: false },
  ],
  command: [
    '/opt/arnold/bin/kick', '-i', '{{Task.Scene}}', '-frames', '{{Task.FrameStart}}', '{{Task.FrameEnd}}', '{{Task.FrameStep}}',
    '-as', '{{Param.samples}}', '-cam', '{{Param.camera}}', '-denoise={{Param.denoise}}', '-title', '{{Param.title}}',
    '-o', '{{Task.OutputPattern}}', '-o:printf', '{{Task.OutputPattern:printf}}',
  ],
  per: 'chunk',
  outputs: { pattern: 'beauty.#####.exr', format: 'exr' },
  timeout_seconds: 3600,
};

const TASK: TaskContext = { frameStart: 1, frameEnd: 24, frameStep: 1, outputDir: '/var/malan/out/task_1', scene: '/var/malan/in/scene.ass' };

/** The message parseTemplate throws for `changes` applied to the lavfi template. */
function rejection(changes: Partial<RenderTemplateInput> | unknown): string {
  try {
    parseTemplate({ ...LAVFI, ...(changes as object) });
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateError);
    return (error as Error).message;
  }
  throw new Error('the template was accepted');
}

function paramRejection(template: RenderTemplateInput, values: Record<string, string | number | boolean> | undefined): string {
  const t = parseTemplate(template);
  try {
    checkParameters(t, values);
  } catch (error) {
    expect(error).toBeInstanceOf(ParameterError);
    return (error as Error).message;
  }
  throw new Error('the values were accepted');
}

describe('renderer templates: what is accepted', () => {
  it('expands the ffmpeg lavfi template for frame 7, one token per argument', () => {
    const t = parseTemplate(LAVFI);
    expect(t.parameters.map((p) => [p.name, p.required])).toEqual([['width', false], ['height', false]]);
    const values = checkParameters(t, { width: 640 });
    expect(values).toEqual({ width: '640', height: '240' });
    expect(expandCommand(t, values, { ...TASK, frame: 7, frameStart: 1, frameEnd: 8 })).toEqual([
      'ffmpeg', '-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=s=640x240:d=1', '-frames:v', '1', '-y', '/var/malan/out/task_1/frame_0007.png',
    ]);
    expect(outputName(t, 7)).toBe('frame_0007.png');
    expect(outputName(t, 123456)).toBe('frame_123456.png');
  });

  it('expands a per-chunk template with the range, the scene and the output pattern both ways', () => {
    const t = parseTemplate(CHUNKED);
    const values = checkParameters(t, { samples: 64, denoise: true });
    expect(values).toEqual({ camera: 'main', samples: '64', denoise: 'true' });
    expect(expandCommand(t, values, { ...TASK, frameStart: 9, frameEnd: 16, frameStep: 2, outputDir: '/out/t9/' })).toEqual([
      '/opt/arnold/bin/kick', '-i', '/var/malan/in/scene.ass', '-frames', '9', '16', '2',
      '-as', '64', '-cam', 'main', '-denoise=true', '-title', '',
      '-o', '/out/t9/beauty.#####.exr', '-o:printf', '/out/t9/beauty.%05d.exr',
    ]);
    expect(outputName(t, 9)).toBe('beauty.00009.exr');
  });

  it('keeps a value with spaces as one token, and never expands a value again', () => {
    const t = parseTemplate({
      ...CHUNKED,
      parameters: [
        { name: 'samples', type: 'INT' },
        { name: 'camera', type: 'STRING', allowed: ['{{Task.Scene}}', 'a$&b'] },
        { name: 'title', type: 'STRING' },
        { name: 'denoise', type: 'BOOL' },
      ],
    });
    const argv = expandCommand(t, checkParameters(t, { samples: 1, camera: '{{Task.Scene}}', title: 'Shot 12, take 3: final', denoise: false }), TASK);
    expect(argv.slice(10, 14)).toEqual(['{{Task.Scene}}', '-denoise=false', '-title', 'Shot 12, take 3: final']);
    expect(argv).toHaveLength(CHUNKED.command.length);
    const dollar = expandCommand(t, checkParameters(t, { samples: 1, camera: 'a$&b', title: 'x', denoise: true }), TASK);
    expect(dollar[10]).toBe('a$&b');
  });

  it('normalizes the stored form, so the worker can parse it again with the same schema', () => {
    const t = parseTemplate(CHUNKED);
    expect(t.parameters.map((p) => [p.name, p.required])).toEqual([['camera', false], ['samples', true], ['denoise', false], ['title', false]]);
    expect(renderTemplateSchema.parse(JSON.parse(JSON.stringify(t)))).toEqual(t);
    expect(parseTemplate({ ...LAVFI, parameters: undefined, command: ['ffmpeg', '-i', 'x', '{{Task.OutputDir}}/{{Task.Frame}}.png'] }).parameters).toEqual([]);
  });

  it('takes an absolute executable, single braces, and a sub-directory in the output pattern', () => {
    expect(() => parseTemplate({ ...LAVFI, command: ['/usr/local/bin/ffmpeg', ...LAVFI.command.slice(1)] })).not.toThrow();
    const t = parseTemplate({ ...LAVFI, command: [...LAVFI.command, '-metadata', 'comment={x}'], outputs: { pattern: 'beauty/f_##.jpeg', format: 'jpg' } });
    expect(outputName(t, 3)).toBe('beauty/f_03.jpeg');
  });
});

describe('renderer templates: what is refused at creation', () => {
  const withToken = (token: string, per: 'frame' | 'chunk' = 'frame') => rejection({ per, command: ['ffmpeg', '-i', '{{Task.FrameStart}}', token, '{{Task.Frame}}'] });

  it('names the unknown placeholder and where it is', () => {
    expect(withToken('x{{Task.Frames}}')).toBe(
      'invalid renderer template: command.3: unknown placeholder "{{Task.Frames}}" at character 2 (known: {{Param.<name>}}, {{Task.Frame}}, {{Task.Frame:0N}}, ' +
        '{{Task.FrameStart}}, {{Task.FrameEnd}}, {{Task.FrameStep}}, {{Task.OutputDir}}, {{Task.Scene}}, {{Task.OutputPattern}}, {{Task.OutputPattern:printf}})',
    );
    expect(withToken('{{Task.Frame:4}}')).toMatch(/^invalid renderer template: command\.3: unknown placeholder "\{\{Task\.Frame:4\}\}" at character 1 /);
    expect(withToken('{{Task.Frame:010}}')).toMatch(/unknown placeholder "\{\{Task\.Frame:010\}\}"/);
    expect(withToken('{{task.frame}}')).toMatch(/unknown placeholder "\{\{task\.frame\}\}"/);
    expect(withToken('{{Param.Width}}')).toMatch(/unknown placeholder "\{\{Param\.Width\}\}"/);
    expect(withToken('{{{Param.width}}}')).toMatch(/command\.3: unknown placeholder "\{\{\{Param\.width\}\}" at character 1/);
  });

  it('refuses malformed braces: unclosed, empty, spaced, or a lone closing pair', () => {
    expect(withToken('{{ Task.Frame')).toMatch(/^invalid renderer template: command\.3: "\{\{" at character 1 is never closed with "\}\}"/);
    expect(withToken('a{{}}b')).toBe('invalid renderer template: command.3: empty placeholder "{{}}" at character 2');
    expect(withToken('{{ Task.Frame }}')).toBe('invalid renderer template: command.3: malformed placeholder "{{ Task.Frame }}" at character 1: no spaces inside {{ }}');
    expect(withToken('done}}')).toBe('invalid renderer template: command.3: "}}" at character 5 closes no placeholder');
  });

  it('refuses a placeholder naming no declared parameter', () => {
    expect(withToken('{{Param.depth}}')).toBe('invalid renderer template: command.3: "{{Param.depth}}" at character 1 names no declared parameter (declared: width, height)');
    expect(rejection({ parameters: [], command: ['ffmpeg', '{{Param.width}}', '{{Task.Frame}}'] })).toMatch(/names no declared parameter \(declared: none\)/);
  });

  it('refuses {{Task.Frame}} in a per-chunk template, and a template that would render the same frames in every task', () => {
    expect(rejection({ per: 'chunk', command: ['ffmpeg', '-start', '{{Task.FrameStart}}', 'out_{{Task.Frame:04}}.png'] })).toBe(
      'invalid renderer template: command.3: "{{Task.Frame:04}}" at character 5: a per "chunk" template runs once per chunk of frames (use {{Task.FrameStart}} and {{Task.FrameEnd}})',
    );
    expect(rejection({ per: 'chunk', command: ['ffmpeg', '{{Task.FrameEnd}}'] })).toMatch(/command: a per "chunk" template must say where its chunk starts with \{\{Task\.FrameStart\}\}/);
    expect(rejection({ command: ['ffmpeg', '{{Task.FrameStart}}', '{{Task.OutputPattern}}'] })).toMatch(/command: a per "frame" template runs once per frame, so its command must say which/);
  });

  it('refuses placeholders, relative paths and shells in command[0]', () => {
    expect(rejection({ command: ['{{Param.width}}', '{{Task.Frame}}'] })).toBe('invalid renderer template: command.0: command[0] is the executable and takes no placeholders');
    expect(rejection({ command: ['/opt/{{Task.Scene}}/bin', '{{Task.Frame}}'] })).toMatch(/command\.0: command\[0\] is the executable and takes no placeholders/);
    for (const exe of ['./render', 'bin/render', '/opt/../bin/render', '/opt/bin/', '', 'ffmpeg -y']) {
      expect(rejection({ command: [exe, '{{Task.Frame}}'] })).toMatch(/command\.0: command\[0\] ".*" must be a program name looked up on PATH/);
    }
    expect(rejection({ command: ['bash', '-c', 'render {{Task.Frame}}'] })).toMatch(/command\.0: command\[0\] "bash" is a shell/);
    expect(rejection({ command: ['/usr/bin/env', 'render', '{{Task.Frame}}'] })).toMatch(/is a shell/);
  });

  it('refuses outputs patterns outside the output directory or without one frame number', () => {
    const pattern = (p: string, format = 'png') => rejection({ outputs: { pattern: p, format } });
    expect(pattern('../frame_####.png')).toBe('invalid renderer template: outputs.pattern: "../frame_####.png" climbs out of the task\'s output directory with ".."');
    expect(pattern('a/../../frame_####.png')).toMatch(/climbs out of the task's output directory/);
    expect(pattern('/abs/frame_####.png')).toMatch(/^invalid renderer template: outputs\.pattern: "\/abs\/frame_####\.png" is absolute/);
    expect(pattern('.hidden_####.png')).toMatch(/simple names only/);
    expect(pattern('frame_%04d.png')).toMatch(/simple names only/);
    expect(pattern('frame.png')).toMatch(/needs exactly one run of #/);
    expect(pattern('####/frame_####.png')).toMatch(/needs exactly one run of #/);
    expect(pattern('frame_##########.png')).toMatch(/at most 9 #/);
    expect(pattern('frame_####.exr')).toBe('invalid renderer template: outputs.pattern: "frame_####.exr" must end in .png for format png');
    expect(pattern('frame_####.png', 'tiff')).toMatch(/outputs\.format must be one of png, exr, jpg/);
  });

  it('refuses bad parameter declarations: regexes, duplicates, mismatched options, defaults that do not fit', () => {
    const param = (p: object) => rejection({ parameters: [{ name: 'width', type: 'INT', default: 1 }, { name: 'height', type: 'INT', default: 1 }, p] });
    expect(param({ name: 'shot', type: 'STRING', pattern: 'sh(ot' })).toMatch(/^invalid renderer template: parameters\.2\.pattern: does not compile as a regular expression: /);
    expect(param({ name: 'shot', type: 'STRING', pattern: 'a)(b' })).toMatch(/parameters\.2\.pattern: does not compile/);
    expect(param({ name: 'shot', type: 'STRING', pattern: 'a'.repeat(201) })).toMatch(/parameters\.2\.pattern: pattern: at most 200 characters/);
    expect(param({ name: 'shot', type: 'INT', pattern: '\\d+' })).toMatch(/parameters\.2\.pattern: a pattern applies to STRING parameters/);
    expect(param({ name: 'width', type: 'INT' })).toBe('invalid renderer template: parameters.2.name: parameter "width" is declared twice');
    expect(param({ name: 'Shot', type: 'STRING' })).toMatch(/parameters\.2\.name: name: a lower-case identifier/);
    expect(param({ name: 'shot', type: 'TEXT' })).toMatch(/parameters\.2\.type: type must be one of STRING, INT, FLOAT, BOOL/);
    expect(param({ name: 'shot', type: 'STRING', min: 1 })).toMatch(/parameters\.2\.min: min and max apply to INT and FLOAT parameters/);
    expect(param({ name: 'n', type: 'INT', min: 5, max: 1 })).toMatch(/parameters\.2\.min: min 5 is above max 1/);
    expect(param({ name: 'n', type: 'INT', default: 50, max: 10 })).toBe('invalid renderer template: parameters.2.default: 50 must be at most 10');
    expect(param({ name: 'n', type: 'INT', default: 1, required: true })).toMatch(/parameters\.2\.required: a parameter with a default may always be left out/);
    expect(param({ name: 'n', type: 'INT', allowed: [1, 2.5] })).toBe('invalid renderer template: parameters.2.allowed.1: 2.5 must be a whole number');
    expect(param({ name: 'b', type: 'BOOL', allowed: [true] })).toMatch(/parameters\.2\.allowed: an allowed list applies to STRING, INT and FLOAT/);
    expect(param({ name: 's', type: 'STRING', allowed: ['a', '../x'] })).toMatch(/parameters\.2\.allowed\.1: "\.\.\/x" contains a "\.\." path segment/);
    expect(param({ name: 's', type: 'STRING', default: 'v1', allowed: ['v2'] })).toMatch(/parameters\.2\.default: "v1" must be one of "v2"/);
    expect(param({ name: 's', type: 'STRING', default: 'x', pattern: '[0-9]+' })).toMatch(/parameters\.2\.default: "x" must match the pattern \[0-9\]\+/);
    expect(param({ name: 's', type: 'STRING', extra: 1 })).toMatch(/parameters\.2: Unrecognized key/);
  });

  it('refuses the name "blender", bad names, unknown keys and oversized commands', () => {
    expect(rejection({ name: 'blender' })).toBe('invalid renderer template: name: name "blender" is the built-in renderer: give the template another name');
    expect(rejection({ name: 'My Renderer' })).toMatch(/^invalid renderer template: name: name: lower-case letters, digits and -/);
    expect(rejection({ name: 'x' })).toMatch(/name: name: lower-case letters/);
    expect(rejection({ shell: true })).toMatch(/\(body\): Unrecognized key: "shell"/);
    expect(rejection({ command: [] })).toMatch(/command: command must name a program/);
    expect(rejection({ command: ['ffmpeg', ...Array<string>(200).fill('{{Task.Frame}}')] })).toMatch(/command: command: at most 200 tokens/);
    expect(rejection({ command: ['ffmpeg', '{{Task.Frame}}', 'x'.repeat(4097)] })).toMatch(/command\.2: a command token is at most 4096 characters/);
    expect(rejection({ command: ['ffmpeg', '{{Task.Frame}}', 'a\u0000b'] })).toMatch(/command\.2: an argv token cannot carry a NUL character/);
    expect(rejection({ command: 'ffmpeg -i {{Task.Frame}}' })).toMatch(/command: command must be an array of strings \(argv\)/);
    expect(rejection({ per: 'scene' })).toMatch(/per: per must be "frame" or "chunk"/);
    expect(rejection({ host_requirements: { gpus: 99 } })).toMatch(/host_requirements\.gpus: requirements\.gpus must be at most 16/);
    expect(rejection({ timeout_seconds: 0 })).toMatch(/timeout_seconds: timeout_seconds must be at least 1/);
  });

  it('names every problem at once, as one line', () => {
    const message = rejection({ command: ['ffmpeg', '{{Task.Frame}}', '{{Nope}}', '{{Param.x}}'], outputs: { pattern: '/x_####.png', format: 'png' } });
    expect(message.replace('invalid renderer template: ', '').split('; ').map((m) => m.split(':')[0])).toEqual(['command.2', 'outputs.pattern', 'command.3']);
    expect(message).not.toMatch(/\n/);
  });
});

describe('template parameters: what a job may pass', () => {
  const SHOT: RenderTemplateInput = {
    ...LAVFI,
    parameters: [
      { name: 'width', type: 'INT', default: 320, min: 16, max: 8192 },
      { name: 'height', type: 'INT', default: 240, min: 16, max: 8192 },
      { name: 'gamma', type: 'FLOAT', default: 2.2, min: 0.1, max: 5 },
      { name: 'hdr', type: 'BOOL', default: false },
      { name: 'quality', type: 'STRING', allowed: ['draft', 'final'], default: 'draft' },
      { name: 'shot', type: 'STRING', pattern: 'sh[0-9]{3}', required: false },
      { name: 'note', type: 'STRING', default: '' },
    ],
  };

  it('applies defaults, and gives numbers and booleans as argv strings', () => {
    const t = parseTemplate(SHOT);
    expect(checkParameters(t, undefined)).toEqual({ width: '320', height: '240', gamma: '2.2', hdr: 'false', quality: 'draft', note: '' });
    expect(checkParameters(t, { width: 1920, gamma: 1, hdr: true, quality: 'final', shot: 'sh010', note: 'Take 3, v2: user@host 50% a+b=c /shots/sh010 Ünïcode' })).toEqual({
      width: '1920', height: '240', gamma: '1', hdr: 'true', quality: 'final', shot: 'sh010', note: 'Take 3, v2: user@host 50% a+b=c /shots/sh010 Ünïcode',
    });
  });

  it('checks types, ranges, allowed lists and patterns, naming the parameter', () => {
    const bad = (values: Record<string, string | number | boolean>) => paramRejection(SHOT, values);
    expect(bad({ width: 8193 })).toBe('parameters.width: must be at most 8192');
    expect(bad({ width: 8 })).toBe('parameters.width: must be at least 16');
    expect(bad({ width: 640.5 })).toBe('parameters.width: must be a whole number');
    expect(bad({ width: '640' })).toBe('parameters.width: must be a whole number');
    expect(bad({ width: 2 ** 60 })).toBe('parameters.width: must be a whole number');
    expect(bad({ gamma: Number.NaN })).toBe('parameters.gamma: must be a finite number');
    expect(bad({ gamma: Number.POSITIVE_INFINITY })).toBe('parameters.gamma: must be a finite number');
    expect(bad({ hdr: 'true' })).toBe('parameters.hdr: must be true or false');
    expect(bad({ hdr: 1 })).toBe('parameters.hdr: must be true or false');
    expect(bad({ quality: 'ultra' })).toBe('parameters.quality: must be one of "draft", "final"');
    expect(bad({ shot: 'sh01' })).toBe('parameters.shot: must match the pattern sh[0-9]{3}');
    expect(bad({ shot: 'xsh010y' })).toBe('parameters.shot: must match the pattern sh[0-9]{3}');
    expect(bad({ note: 42 })).toBe('parameters.note: must be a string');
    expect(bad({ depth: 3 })).toBe('parameters.depth: template "ffmpeg-testsrc" has no such parameter (it takes width, height, gamma, hdr, quality, shot, note)');
    expect(bad({ width: 1, depth: 3 })).toBe('parameters.depth: template "ffmpeg-testsrc" has no such parameter (it takes width, height, gamma, hdr, quality, shot, note); parameters.width: must be at least 16');
    expect(paramRejection({ ...CHUNKED }, {})).toBe('parameters.samples: is required');
  });

  it('refuses strings that look like shell syntax or path escapes, though no shell ever runs', () => {
    const note = (value: string) => paramRejection(SHOT, { note: value });
    const outside = /^parameters\.note: has characters outside letters, digits, space and _ \. , : \+ = @ % \/ -: no shell ever runs/;
    expect(note('; rm -rf /')).toMatch(outside);
    expect(note('$(reboot)')).toMatch(outside);
    expect(note('`reboot`')).toMatch(outside);
    expect(note('a | b')).toMatch(outside);
    expect(note('a\nb')).toBe('parameters.note: contains control characters');
    expect(note('../../etc/passwd')).toBe('parameters.note: contains a ".." path segment: values may not climb out of a directory');
    expect(note('shots/../x')).toMatch(/contains a "\.\." path segment/);
    expect(note('--python-expr=x')).toBe('parameters.note: starts with "-", so the renderer would read it as an option');
    expect(note('x'.repeat(1001))).toBe('parameters.note: is longer than 1000 characters');
    expect(checkParameters(parseTemplate(SHOT), { note: 'a..b v1.2...3' }).note).toBe('a..b v1.2...3');
  });

  it('lets a declared pattern or allowed list widen the character set, but never past .. or control characters', () => {
    const t = parseTemplate({ ...SHOT, parameters: [...(SHOT.parameters ?? []), { name: 'expr', type: 'STRING', pattern: '[a-z(){}$ ]+' }] });
    expect(checkParameters(t, { expr: 'f(x) {y} $z' }).expr).toBe('f(x) {y} $z');
    expect(() => checkParameters(t, { expr: '..' })).toThrow('parameters.expr: contains a ".." path segment');
  });
});

describe('expanding commands', () => {
  it('needs the frame for per-frame templates and resolved values for required parameters', () => {
    const t = parseTemplate(LAVFI);
    expect(() => expandCommand(t, { width: '1', height: '1' }, TASK)).toThrow('expandCommand: {{Task.Frame:04}} needs task.frame');
    expect(() => expandCommand(parseTemplate(CHUNKED), {}, TASK)).toThrow('expandCommand: parameter "samples" has no value (resolve values with checkParameters first)');
  });

  it('pads {{Task.Frame:0N}} to N digits and leaves {{Task.Frame}} as is', () => {
    const t = parseTemplate({ ...LAVFI, parameters: [], command: ['r', '{{Task.Frame}}', '{{Task.Frame:01}}', '{{Task.Frame:09}}', 'f{{Task.Frame:03}}_{{Task.Frame}}'] });
    expect(expandCommand(t, {}, { ...TASK, frame: 42 })).toEqual(['r', '42', '42', '000000042', 'f042_42']);
  });

  it('refuses to expand a template that never went through the schema', () => {
    const raw = { ...parseTemplate(LAVFI), command: ['ffmpeg', '{{Task.Frame}}', '{{oops}}'] };
    expect(() => expandCommand(raw, {}, { ...TASK, frame: 1 })).toThrow(TemplateError);
  });
});
