/**
 * The closed set of reasons a job can fail, as users and operators read them. Code that maps them
 * to states, HTTP statuses or metrics switches over the union exhaustively, so adding a code here
 * is a compile error everywhere it must be handled.
 */
export const JOB_ERROR_CODES = [
  'invalid_input',
  'unsupported_input',
  'source_not_found',
  'media_unreadable',
  'no_video_stream',
  'output_verification_failed',
  'timeout',
  'canceled',
  'worker_lost',
  'internal',
] as const;

export type JobErrorCode = (typeof JOB_ERROR_CODES)[number];

/** Thrown for outcomes that retrying cannot fix (bad input); infrastructure failures are plain errors and retry. */
export class JobError extends Error {
  constructor(
    readonly code: JobErrorCode,
    message: string,
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'JobError';
  }
}
