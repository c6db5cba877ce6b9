/** Streams one file field out of a multipart body (busboy), without buffering the file. */
import busboy from 'busboy';
import { PassThrough, type Readable } from 'node:stream';
import { ApiError } from './api-error.js';

export function readMultipartFile(body: Readable, headers: Headers, field: string): Promise<{ stream: Readable; name: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: Object.fromEntries(headers.entries()), limits: { files: 1, fields: 20 } });
    } catch (err) {
      return reject(new ApiError('invalid_request', `multipart body could not be read: ${(err as Error).message}`));
    }
    let found = false;
    parser.on('file', (name, file, info) => {
      if (name !== field || found) {
        file.resume();
        return;
      }
      found = true;
      const out = new PassThrough();
      file.pipe(out);
      file.on('error', (e) => out.destroy(e));
      resolve({ stream: out, name: info.filename || 'upload', contentType: info.mimeType || 'application/octet-stream' });
    });
    parser.on('error', (err: Error) => (found ? undefined : reject(new ApiError('invalid_request', `multipart body could not be read: ${err.message}`))));
    parser.on('close', () => {
      if (!found) reject(new ApiError('invalid_request', `multipart upload has no file field "${field}" (Replicate's clients send it as "content")`));
    });
    body.pipe(parser);
  });
}
