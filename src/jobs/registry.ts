/**
 * The job kinds the farm accepts, each with the schema that validates its input at the API and
 * again in the worker. Exhaustive: adding a kind to JOB_KINDS fails to compile until it is here.
 */
import type { z } from 'zod';
import { inferenceFileIds, inferenceInputSchema, type InferenceInput } from './inference/spec.js';
import { renderInputSchema, type RenderInput } from './render/spec.js';
import { transcodeInputSchema, type TranscodeInput } from './transcode/spec.js';

export const JOB_KINDS = ['transcode', 'inference', 'render'] as const;
export type JobKind = (typeof JOB_KINDS)[number];

/** Kinds of the design that are not jobs here: a submission of one is told where it lives. */
export const KINDS_ELSEWHERE: Readonly<Record<string, string>> = {
  live: 'live events run as channels, each segment a job with a deadline: POST /v1/live/channels',
};

export interface JobKindDefinition<I> {
  kind: JobKind;
  inputSchema: z.ZodType<I>;
  /** File ids the input refers to: checked against the tenant at submission, signed for the worker. */
  fileIds(input: I): string[];
  /** The BullMQ queue the kind's work goes to. */
  queue: string;
  /** Attempts before a failing job fails for good (infrastructure errors retry; bad input never does). */
  attempts: number;
}

interface KindInputs {
  transcode: TranscodeInput;
  inference: InferenceInput;
  render: RenderInput;
}
type Registry = { [K in JobKind]: JobKindDefinition<KindInputs[K]> };

export const jobKinds: Registry = {
  transcode: {
    kind: 'transcode',
    inputSchema: transcodeInputSchema,
    fileIds: (input) => [input.source.file],
    queue: 'transcode',
    attempts: 3,
  },
  inference: {
    kind: 'inference',
    inputSchema: inferenceInputSchema,
    fileIds: inferenceFileIds,
    queue: 'inference',
    attempts: 3,
  },
  // Tasks, not the job, go on the queue; a task is retried by the API on other workers (render-recorder).
  render: {
    kind: 'render',
    inputSchema: renderInputSchema,
    fileIds: (input) => [input.scene.file],
    queue: 'render',
    attempts: 1,
  },
};

/** A kind's definition over an input not yet narrowed to its type (the schema narrows it). */
export function kindDefinition(kind: JobKind): JobKindDefinition<unknown> {
  return jobKinds[kind] as JobKindDefinition<unknown>;
}

export function isJobKind(kind: unknown): kind is JobKind {
  return typeof kind === 'string' && (JOB_KINDS as readonly string[]).includes(kind);
}
