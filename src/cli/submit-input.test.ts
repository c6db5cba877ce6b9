import { describe, expect, it } from 'vitest';
import { buildInput, checkInput, checkKind, fileRefs, parseSetFlag, replaceFileRefs } from './submit-input.js';
import { UsageError } from './usage-error.js';

describe('--set', () => {
  it('takes dotted paths, and values as JSON when they parse, else as strings', () => {
    expect(parseSetFlag('height=240')).toEqual({ path: ['height'], value: 240 });
    expect(parseSetFlag('source.file=@1')).toEqual({ path: ['source', 'file'], value: '@1' });
    expect(parseSetFlag('preset=veryfast')).toEqual({ path: ['preset'], value: 'veryfast' });
    expect(parseSetFlag('audio={"loudness":"ebu-r128"}')).toEqual({ path: ['audio'], value: { loudness: 'ebu-r128' } });
    expect(parseSetFlag('formats=["hls","mp4"]').value).toEqual(['hls', 'mp4']);
    expect(parseSetFlag('label="240"').value).toBe('240'); // quoted: a string after all
    expect(parseSetFlag('flag=true').value).toBe(true);
    expect(parseSetFlag('url=http://x/?a=b').value).toBe('http://x/?a=b'); // only the first = splits
    expect(parseSetFlag('empty=').value).toBe('');
  });

  it('refuses a flag without =, empty path parts and prototype keys', () => {
    expect(() => parseSetFlag('height')).toThrow(/--set needs key=value .*got 'height'/);
    expect(() => parseSetFlag('=1')).toThrow(UsageError);
    expect(() => parseSetFlag('a..b=1')).toThrow(/not a dotted path/);
    expect(() => parseSetFlag('__proto__.x=1')).toThrow(/cannot be a key/);
    expect(() => parseSetFlag('a.constructor=1')).toThrow(/cannot be a key/);
  });

  it('applies on top of the --input object, making objects on the way', () => {
    const base = { source: { file: '@1' }, height: 720 };
    const input = buildInput(base, ['height=240', 'audio.bitrate=128k', 'blender.resolution.width=640']);
    expect(input).toEqual({ source: { file: '@1' }, height: 240, audio: { bitrate: '128k' }, blender: { resolution: { width: 640 } } });
    expect(base.height).toBe(720); // not changed
    expect(() => buildInput({ height: 240 }, ['height.x=1'])).toThrow(/height is already 240, not an object/);
    expect(() => buildInput([1], [])).toThrow(/must hold a JSON object/);
    expect(() => buildInput('x', [])).toThrow(UsageError);
  });
});

describe('@N file references', () => {
  it('are found anywhere in the input and replaced by the uploads, in order', () => {
    const input = { scene: { file: '@2' }, inputs: { image: { file: '@1' }, text: '@home', n: 1 }, list: ['@1'] };
    expect(fileRefs(input)).toEqual([2, 1, 1]);
    expect(replaceFileRefs(input, ['file_a', 'file_b'])).toEqual({ scene: { file: 'file_b' }, inputs: { image: { file: 'file_a' }, text: '@home', n: 1 }, list: ['file_a'] });
  });
});

describe('checkInput', () => {
  const transcode = (sets: string[]) => buildInput({}, sets);

  it('accepts input the kind takes, with the files in place', () => {
    expect(() => checkInput('transcode', transcode(['source.file=@1', 'height=240']), ['a.mp4'])).not.toThrow();
    expect(() => checkInput('transcode', transcode(['source.file=file_01m89m19dppvy86ejtebwsqf61', 'height=240']), [])).not.toThrow();
    expect(() => checkInput('render', buildInput({}, ['scene.file=@1', 'renderer=blender', 'frames.start=1', 'frames.end=4', 'chunk_size=2']), ['a.blend'])).not.toThrow();
  });

  it('refuses an @N without its --file, and a --file the input never names', () => {
    expect(() => checkInput('transcode', transcode(['source.file=@1', 'height=240']), [])).toThrow('the input names @1 but no --file was given');
    expect(() => checkInput('transcode', transcode(['source.file=@2', 'height=240']), ['a.mp4'])).toThrow('the input names @2 but only 1 --file was given');
    expect(() => checkInput('render', buildInput({}, ['frames.start=1']), ['a.blend'])).toThrow('--file a.blend is @1, but the input never names it (e.g. --set scene.file=@1)');
  });

  it("refuses what the kind's schema refuses, with the field's path", () => {
    expect(() => checkInput('transcode', transcode(['source.file=@1', 'height=241']), ['a.mp4'])).toThrow('input.height: height must be even');
    expect(() => checkInput('transcode', transcode(['source.file=@1', 'heigth=240']), ['a.mp4'])).toThrow(/heigth/);
  });

  it('knows the kinds, and points live events to channels', () => {
    expect(checkKind('render')).toBe('render');
    expect(() => checkKind('frobnicate')).toThrow("unknown kind 'frobnicate'; one of transcode, inference, render");
    expect(() => checkKind('live')).toThrow(/POST \/v1\/live\/channels/);
    expect(() => checkKind(undefined)).toThrow(/submit needs a kind/);
  });
});
