/** Schema parts every job kind's input shares, so a field reads and fails the same way everywhere. */
import { z } from 'zod';

export const FILE_ID_PATTERN = /^file_[0-9a-z]{26}$/;

/** A whole number in [min, max], each way of missing it said in words that name the field. */
export const wholeNumber = (field: string, min: number, max: number, maxNote = '') =>
  z
    .number({ error: `${field} must be a number` })
    .int({ error: `${field} must be a whole number` })
    .min(min, { error: `${field} must be at least ${min}` })
    .max(max, { error: `${field} must be at most ${max}${maxNote}` });

/** How long a job may run before it is stopped (its processes killed) and failed with `timeout`. */
export const timeoutSecondsSchema = wholeNumber('timeout_seconds', 1, 86_400, ' (one day)');
