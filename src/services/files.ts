/** Files: bytes in storage, metadata in the database, always scoped to a tenant. */
import { and, eq } from 'drizzle-orm';
import type { Readable } from 'node:stream';
import type { Db } from '../db/database.js';
import { files, type FileRow } from '../db/schema.js';
import { idPattern, newId } from '../ids.js';
import type { Storage } from '../storage/storage.js';
import type { Principal } from './keys.js';

export class EmptyFileError extends Error {
  constructor() {
    super('the file is empty (0 bytes)');
  }
}

export interface NewFile {
  tenantId: string;
  name: string;
  contentType: string;
  body: Readable;
  maxBytes: number;
  jobId?: string;
  attempt?: number;
}

/** Streams the body to storage (hashing as it goes), then records it. Nothing is recorded if the body fails. */
export async function storeFile(db: Db, storage: Storage, f: NewFile): Promise<FileRow> {
  const id = newId('file');
  const storageKey = `files/${f.tenantId}/${id}`;
  const stored = await storage.put(storageKey, f.body, { maxBytes: f.maxBytes });
  if (stored.size === 0) {
    await storage.delete(storageKey);
    throw new EmptyFileError();
  }
  const [row] = await db
    .insert(files)
    .values({
      id,
      tenantId: f.tenantId,
      name: cleanName(f.name, f.jobId !== undefined),
      contentType: cleanContentType(f.contentType),
      size: stored.size,
      sha256: stored.sha256,
      storageKey,
      jobId: f.jobId ?? null,
      attempt: f.attempt ?? null,
    })
    .returning();
  return row!;
}

/** A file the principal may see (operators see all), or null: another tenant's file is simply not there. */
export async function findFile(db: Db, principal: Principal | { operator: true } | { tenantId: string; operator: false }, id: string) {
  if (!idPattern('file').test(id)) return null;
  const scope = principal.operator ? eq(files.id, id) : and(eq(files.id, id), eq(files.tenantId, principal.tenantId));
  const [row] = await db.select().from(files).where(scope);
  return row ?? null;
}

export function fileView(row: FileRow, baseUrl: string) {
  return {
    id: row.id,
    name: row.name,
    content_type: row.contentType,
    size: row.size,
    checksums: { sha256: row.sha256 },
    created_at: row.createdAt.toISOString(),
    urls: { get: `${baseUrl}/v1/files/${row.id}/content` },
  };
}

function cleanName(name: string, keepSlashes = false): string {
  // Names are labels only (storage uses ids), but keep them printable and of sane length. Outputs
  // keep their relative paths (validated by the upload route), so that playlists resolve.
  const cleaned = name.replace(keepSlashes ? /[\u0000-\u001f\u007f\\]/g : /[\u0000-\u001f\u007f/\\]/g, '_').slice(0, 255).trim();
  return cleaned || 'upload';
}

function cleanContentType(type: string): string {
  const t = type.split(';')[0]!.trim().toLowerCase();
  return /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/.test(t) ? t : 'application/octet-stream';
}
