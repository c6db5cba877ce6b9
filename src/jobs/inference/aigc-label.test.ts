import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runFfmpeg } from '../../media/ffmpeg.js';
import {
  aigcFields, aigcVideoMetadataArgs, aigcXmp, DIGITAL_SOURCE_TYPE, TC260_NAMESPACE, visibleMarkBox, visibleMarkSvg, type AigcLabel,
} from './aigc-label.js';
import { decodeImage, encodeImage, type DecodedImage } from './image-tensors.js';
import { IMAGES } from '../../../test/helpers/assets.js';

const run = promisify(execFile);
const label: AigcLabel = { producer: 'Malan 渲染农场 <test> & "co"', produceId: 'job_01J&<x>', model: 'acme/sr@1 <b>', visible: false };

const hasExiftool = (() => {
  try {
    execFileSync('exiftool', ['-ver'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
let cat: DecodedImage;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aigc-label-test-'));
  cat = await decodeImage(join(IMAGES, 'cat.jpg'), { maxPixels: 10_000_000 });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The `TC260:AIGC` JSON out of an XMP packet, read as an XML parser reads it. */
function aigcOf(xmp: string) {
  const description = new XMLParser({ ignoreAttributes: false }).parse(xmp)['x:xmpmeta']['rdf:RDF']['rdf:Description'];
  return { fields: JSON.parse(description['TC260:AIGC']) as Record<string, string>, description };
}

describe('aigcFields', () => {
  it("is GB 45438-2025's field set, in order, Label 1 for AI-generated", () => {
    const fields = aigcFields({ producer: 'malan', produceId: 'job_1', model: 'm', visible: false });
    expect(Object.keys(fields)).toEqual(['Label', 'ContentProducer', 'ProduceID', 'ReservedCode1', 'ContentPropagator', 'PropagateID', 'ReservedCode2']);
    expect(fields).toMatchObject({ Label: '1', ContentProducer: 'malan', ProduceID: 'job_1', ContentPropagator: '', PropagateID: '' });
    expect(aigcFields({ ...label, propagator: 'cdn', propagateId: 'p9' })).toMatchObject({ ContentPropagator: 'cdn', PropagateID: 'p9' });
  });
});

describe('aigcXmp', () => {
  it('is one well-formed XMP packet in the TC260 namespace', () => {
    const xmp = aigcXmp(label);
    expect(xmp.startsWith('<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>')).toBe(true);
    expect(xmp.trimEnd().endsWith('<?xpacket end="w"?>')).toBe(true);
    expect(XMLValidator.validate(xmp)).toBe(true);
    expect(xmp).toContain(`xmlns:TC260="${TC260_NAMESPACE}"`);
  });

  it('carries the fields as JSON in TC260:AIGC, and says "AI-generated" to tools outside China', () => {
    const { fields, description } = aigcOf(aigcXmp(label));
    expect(fields).toEqual(aigcFields(label)); // escaped, and read back unchanged
    expect(description['xmp:CreatorTool']).toBe(label.model);
    expect(description['Iptc4xmpExt:DigitalSourceType']).toBe(DIGITAL_SOURCE_TYPE);
    expect(description['dc:description']['rdf:Alt']['rdf:li']['#text']).toContain('AI-generated');
  });
});

describe('encodeImage writes the label into the file', () => {
  it.each(['png', 'jpeg', 'webp'] as const)('%s: sharp reads the XMP back', async (format) => {
    const { bytes } = await encodeImage(cat, format, label);
    const meta = await sharp(bytes).metadata();
    expect(meta.format).toBe(format);
    expect(meta.xmp).toBeInstanceOf(Buffer);
    expect(aigcOf(meta.xmp!.toString('utf8')).fields).toEqual(aigcFields(label));
  });

  it.for(['png', 'jpeg', 'webp'] as const)('%s: exiftool reads TC260:AIGC and the IPTC source type', async (format, ctx) => {
    if (!hasExiftool) ctx.skip('exiftool is not installed (Debian: libimage-exiftool-perl); sharp read the XMP above');
    const { bytes } = await encodeImage(cat, format, label);
    const file = join(dir, `labelled.${format}`);
    await writeFile(file, bytes);
    const { stdout } = await run('exiftool', ['-j', '-G1', '-XMP:all', file]);
    const tags = (JSON.parse(stdout) as Array<Record<string, string>>)[0]!;
    // exiftool names a tag of a namespace it does not know by its own casing: XMP-TC260:Aigc.
    const aigc = Object.entries(tags).find(([key]) => key.toLowerCase() === 'xmp-tc260:aigc')?.[1];
    expect(JSON.parse(aigc!)).toEqual(aigcFields(label));
    expect(tags['XMP-iptcExt:DigitalSourceType']).toBe(DIGITAL_SOURCE_TYPE);
    expect(tags['XMP-xmp:CreatorTool']).toBe(label.model);
  });
});

describe('the visible mark', () => {
  it('is an SVG the size of the image, titled with its text', () => {
    const svg = visibleMarkSvg(348, 200).toString('utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svg).toContain('width="348" height="200"');
    expect(svg).toContain('<title>AI生成 · AI-generated</title>');
  });

  it('sits in the bottom-right corner, its capitals at least 5% of the shorter side', () => {
    for (const [w, h] of [[348, 348], [1920, 1080], [600, 2000], [64, 48]] as const) {
      const box = visibleMarkBox(w, h);
      expect(box.left + box.width).toBeLessThanOrEqual(w);
      expect(box.top + box.height).toBeLessThanOrEqual(h);
      expect(w - (box.left + box.width)).toBeLessThanOrEqual(Math.max(2, 0.02 * Math.min(w, h)) + 1);
      expect(h - (box.top + box.height)).toBeLessThanOrEqual(Math.max(2, 0.02 * Math.min(w, h)) + 1);
      if (Math.min(w, h) >= 200) expect(box.unit * 10).toBeGreaterThanOrEqual(0.05 * Math.min(w, h));
    }
  });

  it('changes the corner only', async () => {
    const plain = await decodeImage((await encodeImage(cat, 'png', label)).bytes, { maxPixels: 10_000_000 });
    const marked = await decodeImage((await encodeImage(cat, 'png', { ...label, visible: true })).bytes, { maxPixels: 10_000_000 });
    const box = visibleMarkBox(cat.width, cat.height);
    let inside = 0;
    let changedInside = 0;
    for (let y = 0; y < cat.height; y++) {
      for (let x = 0; x < cat.width; x++) {
        const i = (y * cat.width + x) * 3;
        const same = marked.pixels.subarray(i, i + 3).equals(plain.pixels.subarray(i, i + 3));
        const isInside = x >= box.left && x < box.left + box.width && y >= box.top && y < box.top + box.height;
        if (!isInside && !same) expect.fail(`pixel (${x}, ${y}) changed outside the mark's box`);
        if (isInside) {
          inside++;
          if (!same) changedInside++;
        }
      }
    }
    expect(changedInside / inside).toBeGreaterThan(0.9); // the backing box darkens all of it
  });
});

describe('aigcVideoMetadataArgs', () => {
  it('puts the JSON and a comment in the container, keeping MP4 custom keys', () => {
    expect(aigcVideoMetadataArgs(label)).toEqual([
      '-metadata', `AIGC=${JSON.stringify(aigcFields(label))}`,
      '-metadata', 'comment=AI-generated content (GB 45438-2025), made with acme/sr@1 <b>',
      '-movflags', '+use_metadata_tags',
    ]);
  });

  it('survives into a real MP4, as ffprobe reads it', async () => {
    const out = join(dir, 'labelled.mp4');
    await runFfmpeg([
      '-hide_banner', '-nostdin', '-y', '-benchmark',
      '-f', 'lavfi', '-i', 'testsrc=duration=1:size=160x120:rate=10',
      '-c:v', 'mpeg4', ...aigcVideoMetadataArgs(label), out,
    ]);
    const { stdout } = await run('ffprobe', ['-v', 'error', '-of', 'json', '-show_format', out]);
    const tags = (JSON.parse(stdout) as { format: { tags: Record<string, string> } }).format.tags;
    expect(JSON.parse(tags.AIGC!)).toEqual(aigcFields(label));
    expect(tags.comment).toContain('AI-generated');
  });
});
