/**
 * Live channels. Keyed: make, list, read, stop and delete channels. Keyless, with their own
 * credentials: ingest (the channel's stream key, in the ingest URL or as a bearer) and playback
 * (a signed token in the path, which a master playlist's relative URIs keep).
 */
import { Readable } from 'node:stream';
import { Hono, type Context } from 'hono';
import { and, eq } from 'drizzle-orm';
import { ApiError } from '../api-error.js';
import { bearerToken, type ApiEnv } from '../auth.js';
import { liveChannels, liveSegments } from '../../db/live-schema.js';
import type { FarmContext } from '../../services/farm-context.js';
import { channelView, createChannel, deleteChannel, getChannelRow, listChannels, stopChannel } from '../../services/live-channels.js';
import { ingestChannel, ingestPlaylist, ingestSegment, MAX_PLAYLIST_BYTES, rungKey } from '../../services/live-ingest.js';
import { collectBody } from '../ingest-body.js';
import { masterFor, mediaPlaylistFor } from '../../services/live-publisher.js';

export function liveApi(ctx: FarmContext) {
  return new Hono<ApiEnv>()
    .post('/channels', async (c) => c.json(await createChannel(ctx, c.get('principal'), await c.req.json().catch(() => ({}))), 201))
    .get('/channels', async (c) => c.json(await listChannels(ctx, c.get('principal'))))
    .get('/channels/:id', async (c) => c.json(await channelView(ctx, await getChannelRow(ctx, c.get('principal'), c.req.param('id')))))
    .post('/channels/:id/stop', async (c) => c.json(await stopChannel(ctx, c.get('principal'), c.req.param('id'))))
    .delete('/channels/:id', async (c) => {
      await deleteChannel(ctx, c.get('principal'), c.req.param('id'));
      return c.body(null, 204);
    });
}

/** `PUT <ingest_url>/<name>`: what `ffmpeg -f hls -method PUT <ingest_url>/index.m3u8` sends. */
export function liveIngestApi(ctx: FarmContext) {
  const put = async (c: Context, key: string | undefined, name: string) => {
    const playlist = name.endsWith('.m3u8');
    const limit = playlist ? MAX_PLAYLIST_BYTES : ctx.config.MALAN_LIVE_MAX_SEGMENT_BYTES;
    if (Number(c.req.header('content-length') ?? 0) > limit) throw new ApiError('payload_too_large', `${name.slice(0, 80)} is ${c.req.header('content-length')} bytes; the most a ${playlist ? 'playlist' : 'live segment'} may be is ${limit}${playlist ? '' : ' (MALAN_LIVE_MAX_SEGMENT_BYTES)'}`);
    // The time the last byte came is when the segment arrived: its deadline counts from there.
    const body = collectBody(c, limit, playlist ? 'the playlist' : `segment ${name.slice(0, 80)}`).then((bytes) => ({ bytes, at: new Date() }));
    body.catch(() => undefined); // awaited below; refused requests must not leave it unhandled
    const channel = await ingestChannel(ctx, c.req.param('id')!, key);
    const { bytes, at } = await body;
    if (playlist) return c.json(await ingestPlaylist(ctx, channel.id, bytes));
    await ingestSegment(ctx, channel, name, bytes, at);
    return c.body(null, 201);
  };
  // ffmpeg's hls muxer may delete old segments (-hls_flags delete_segments): the farm keeps its own copy.
  const remove = async (c: Context, key: string | undefined) => {
    await ingestChannel(ctx, c.req.param('id')!, key);
    return c.body(null, 204);
  };
  return new Hono()
    .put('/:id/ingest/:key/:name', (c) => put(c, c.req.param('key'), c.req.param('name')))
    .put('/:id/ingest/:name', (c) => put(c, bearerToken(c.req.header('authorization')) ?? undefined, c.req.param('name')))
    .delete('/:id/ingest/:key/:name', (c) => remove(c, c.req.param('key')))
    .delete('/:id/ingest/:name', (c) => remove(c, bearerToken(c.req.header('authorization')) ?? undefined));
}

const PLAYLIST = 'application/vnd.apple.mpegurl';

export function livePlaybackApi(ctx: FarmContext) {
  const channelOf = async (token: string) => {
    const [id, expires, sig] = token.split('.');
    if (!id || !ctx.signer.verify('GET', `/v1/live/play/${id}`, expires, sig)) {
      throw new ApiError('forbidden', 'this playback link is not valid or has expired; get a fresh one from the channel');
    }
    const [row] = await ctx.db.select().from(liveChannels).where(eq(liveChannels.id, id));
    if (!row) throw new ApiError('not_found', `live channel ${id} was not found`);
    return row;
  };
  // Players on any site may play it; playlists change with every segment, segments never do.
  const playlist = (c: Context, text: string) => {
    c.header('Cache-Control', 'no-cache');
    c.header('Access-Control-Allow-Origin', '*');
    return c.body(text, 200, { 'Content-Type': PLAYLIST });
  };
  return new Hono()
    .get('/:token/master.m3u8', async (c) => {
      const channel = await channelOf(c.req.param('token'));
      if (!channel.rungs) throw new ApiError('not_found', 'the channel has no segment yet: start the encoder, then play');
      return playlist(c, masterFor(channel));
    })
    .get('/:token/:rung/index.m3u8', async (c) => {
      const channel = await channelOf(c.req.param('token'));
      if (!channel.rungs?.some((r) => r.name === c.req.param('rung'))) throw new ApiError('not_found', `the channel has no rung ${c.req.param('rung').slice(0, 40)}`);
      return playlist(c, await mediaPlaylistFor(ctx, channel));
    })
    .get('/:token/:rung/:file', async (c) => {
      const channel = await channelOf(c.req.param('token'));
      const m = /^(\d{1,9})\.ts$/.exec(c.req.param('file'));
      const rung = channel.rungs?.find((r) => r.name === c.req.param('rung'));
      if (!m || !rung) throw new ApiError('not_found', 'no such segment');
      const seq = Number(m[1]);
      const [segment] = await ctx.db.select({ status: liveSegments.status }).from(liveSegments).where(and(eq(liveSegments.channelId, channel.id), eq(liveSegments.seq, seq)));
      if (segment?.status !== 'published') throw new ApiError('not_found', `segment ${seq} is ${segment?.status === 'gap' ? 'a gap (it missed its deadline)' : 'not published'}`);
      const key = rungKey(channel.id, rung.name, seq);
      const size = await ctx.storage.size(key);
      if (size === null) throw new ApiError('not_found', `segment ${seq} is no longer kept (outside the window)`);
      c.header('Cache-Control', 'public, max-age=3600');
      c.header('Access-Control-Allow-Origin', '*');
      c.header('Content-Length', String(size));
      return c.body(Readable.toWeb(ctx.storage.read(key)) as ReadableStream, 200, { 'Content-Type': 'video/mp2t' });
    });
}
