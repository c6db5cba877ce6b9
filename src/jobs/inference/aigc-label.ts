/**
 * The label China requires on AI-generated content (Measures for Labeling AI-Generated Synthetic
 * Content, in force 2025-09-01; mandatory national standard GB 45438-2025): an implicit label in
 * the file's metadata, always, and a visible one when asked for.
 *
 * The implicit label is the standard's metadata fields as JSON, carried in XMP under TC260's
 * namespace as `TC260:AIGC` — the form that labelled files in the wild (and the readers that
 * check them) use. Videos carry the same JSON in a container tag. The XMP also says "AI made
 * this" in the vocabularies tools outside China read: IPTC's digital source type and
 * xmp:CreatorTool.
 *
 * The visible mark is drawn with strokes defined below, not with a font: the worker image has no
 * CJK font, and librsvg would draw 生成 as empty boxes without saying so.
 */

export interface AigcLabel {
  /** Who made the content: the service's name or, in production, its registered producer code. */
  producer: string;
  /** This content's id, unique per producer (the job's output id does). */
  produceId: string;
  /** The model that made it, as people know it (`owner/name@version`). */
  model: string;
  /** Draw the visible mark too (the implicit label is always written). */
  visible: boolean;
  /** Who spreads it, when the farm serves it on someone else's behalf. */
  propagator?: string;
  propagateId?: string;
}

export const TC260_NAMESPACE = 'http://www.tc260.org.cn/ns/AIGC/1.0/';
/** IPTC's term for "created by a model trained on sampled content". */
export const DIGITAL_SOURCE_TYPE = 'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia';
export const VISIBLE_MARK_TEXT = 'AI生成 · AI-generated';

/** GB 45438-2025's metadata fields, in its order. Label '1' means "AI-generated" ('2' possibly, '3' suspected). */
export function aigcFields(label: AigcLabel): Record<string, string> {
  return {
    Label: '1',
    ContentProducer: label.producer,
    ProduceID: label.produceId,
    // The reserved codes are for the producer's and the propagator's own integrity checks (a
    // signature, a hash); the farm has none yet, and an empty field is what the standard allows.
    ReservedCode1: '',
    ContentPropagator: label.propagator ?? '',
    PropagateID: label.propagateId ?? '',
    ReservedCode2: '',
  };
}

export function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** A complete XMP packet, ready for sharp's `withXmp`. */
export function aigcXmp(label: AigcLabel): string {
  const json = JSON.stringify(aigcFields(label));
  const description = `AI-generated content (GB 45438-2025), made with ${label.model}`;
  return [
    '<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>',
    '<x:xmpmeta xmlns:x="adobe:ns:meta/">',
    ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    '  <rdf:Description rdf:about=""',
    `    xmlns:TC260="${TC260_NAMESPACE}"`,
    '    xmlns:xmp="http://ns.adobe.com/xap/1.0/"',
    '    xmlns:dc="http://purl.org/dc/elements/1.1/"',
    '    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">',
    `   <TC260:AIGC>${xmlEscape(json)}</TC260:AIGC>`,
    `   <xmp:CreatorTool>${xmlEscape(label.model)}</xmp:CreatorTool>`,
    `   <Iptc4xmpExt:DigitalSourceType>${DIGITAL_SOURCE_TYPE}</Iptc4xmpExt:DigitalSourceType>`,
    `   <dc:description><rdf:Alt><rdf:li xml:lang="x-default">${xmlEscape(description)}</rdf:li></rdf:Alt></dc:description>`,
    '  </rdf:Description>',
    ' </rdf:RDF>',
    '</x:xmpmeta>',
    '<?xpacket end="w"?>',
  ].join('\n');
}

/**
 * ffmpeg output options that put the same label into the container: the JSON as an `AIGC` tag
 * and a plain comment. MP4/MOV drop keys they don't know unless `use_metadata_tags` is set; a
 * caller that sets other movflags (+faststart) must merge them into one `-movflags`, since
 * ffmpeg keeps only the last.
 */
export function aigcVideoMetadataArgs(label: AigcLabel): string[] {
  return [
    '-metadata', `AIGC=${JSON.stringify(aigcFields(label))}`,
    '-metadata', `comment=AI-generated content (GB 45438-2025), made with ${label.model}`,
    '-movflags', '+use_metadata_tags',
  ];
}

// ---- the visible mark ----------------------------------------------------------------------

/**
 * Glyphs as stroke paths on a grid where capitals and CJK stand 10 units tall (y down, baseline
 * at 10, descenders to 13.5) — `w` is the advance before spacing.
 */
const GLYPHS: Record<string, { w: number; d: string }> = {
  A: { w: 8, d: 'M0 10L4 0L8 10M1.5 6.4H6.5' },
  I: { w: 4, d: 'M0 0H4M2 0V10M0 10H4' },
  生: { w: 10, d: 'M3 -0.2L0.9 3.8M2.2 2.6H9.3M5.4 -0.4V10M1.8 6.3H8.8M0 10H10' },
  成: { w: 10, d: 'M1.6 2.6H9.8M1.6 2.6V7Q1.6 9.5 0.2 10.6M1.6 6H4.4V9.4L3.3 8.8M5.4 -0.3Q5.6 7 9.8 10.4V8.2M8.8 4.8L5 9.8M7.6 0.1L8.8 1.3' },
  '·': { w: 2, d: 'M0.7 5.6H1.3' },
  '-': { w: 4.5, d: 'M0.5 6.2H4' },
  ' ': { w: 1.6, d: '' },
  a: { w: 6, d: 'M6 3V10M6 6.5A3 3.5 0 1 0 0 6.5A3 3.5 0 1 0 6 6.5' },
  d: { w: 6, d: 'M6 0V10M6 6.5A3 3.5 0 1 0 0 6.5A3 3.5 0 1 0 6 6.5' },
  e: { w: 6, d: 'M0.1 6.5H6A3 3.5 0 1 0 5.1 9' },
  g: { w: 6, d: 'M6 3V11.2Q6 13.5 3 13.5Q1.3 13.5 0.5 12.6M6 6.5A3 3.5 0 1 0 0 6.5A3 3.5 0 1 0 6 6.5' },
  n: { w: 5.5, d: 'M0 3V10M0 5.6Q0 3 2.75 3Q5.5 3 5.5 5.6V10' },
  r: { w: 4, d: 'M0 3V10M0 5.8Q0 3 3.6 3.2' },
  t: { w: 4, d: 'M1.5 0.6V8.6Q1.5 10 3.8 10M0 3.2H3.8' },
};
const SPACING = 1.8;
const STROKE = 1.3;
const PAD = 3;
/** Text from the top of a capital to the bottom of a descender, in grid units. */
const INK_HEIGHT = 13.5;

const TEXT_WIDTH = [...VISIBLE_MARK_TEXT].reduce((w, ch) => w + GLYPHS[ch]!.w + SPACING, -SPACING);
const BOX_UNITS = { width: TEXT_WIDTH + 2 * PAD, height: INK_HEIGHT + 2 * PAD };

/**
 * Where the mark goes: the bottom-right corner, its capitals and hanzi 5% of the shorter side
 * tall (the standard's minimum; any taller and the long bilingual line spans most of a square
 * image), never under 10 px, shrunk only where the image is too narrow to hold it.
 */
export function visibleMarkBox(width: number, height: number): { left: number; top: number; width: number; height: number; unit: number } {
  const shorter = Math.min(width, height);
  const margin = Math.max(2, Math.round(shorter * 0.02));
  let unit = Math.max(10, Math.ceil(shorter * 0.05)) / 10;
  unit = Math.min(unit, (width - 2 * margin) / BOX_UNITS.width, (height - 2 * margin) / BOX_UNITS.height);
  unit = Math.max(unit, 0.1);
  const boxWidth = Math.ceil(BOX_UNITS.width * unit);
  const boxHeight = Math.ceil(BOX_UNITS.height * unit);
  return { left: Math.max(0, width - margin - boxWidth), top: Math.max(0, height - margin - boxHeight), width: boxWidth, height: boxHeight, unit };
}

/** An SVG the size of the image, transparent but for the mark: composite it at (0, 0). */
export function visibleMarkSvg(width: number, height: number): Buffer {
  const box = visibleMarkBox(width, height);
  const u = box.unit;
  let x = 0;
  const paths: string[] = [];
  for (const ch of VISIBLE_MARK_TEXT) {
    const glyph = GLYPHS[ch]!;
    if (glyph.d) paths.push(`<path transform="translate(${x.toFixed(2)} 0)" d="${glyph.d}"/>`);
    x += glyph.w + SPACING;
  }
  const svg = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<title>${VISIBLE_MARK_TEXT}</title>`,
    `<rect x="${box.left}" y="${box.top}" width="${box.width}" height="${box.height}" rx="${(2 * u).toFixed(2)}" fill="#000" fill-opacity="0.55"/>`,
    `<g transform="translate(${(box.left + PAD * u).toFixed(2)} ${(box.top + PAD * u).toFixed(2)}) scale(${u.toFixed(4)})"`,
    ` fill="none" stroke="#fff" stroke-width="${STROKE}" stroke-linecap="round" stroke-linejoin="round">`,
    ...paths,
    '</g>',
    '</svg>',
  ].join('\n');
  return Buffer.from(svg, 'utf8');
}
