/**
 * Render jobs compile into tasks: chunks of frames, then one assembly task. Each task has its own
 * state machine (queued → active → completed | failed | canceled, paused while its job is, queued
 * again when requeued), its runs and the failures that decide retries and blocklists.
 */
import { sql } from 'drizzle-orm';
import { doublePrecision, index, integer, jsonb, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { jobs } from './schema.js';

const at = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export const TASK_STATUSES = ['queued', 'active', 'paused', 'completed', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface TaskFailure {
  worker: string;
  run: number;
  at: string;
  code: string;
  message: string;
}

export interface TaskOutput {
  frame: number;
  file: string;
  name: string;
}

export const renderTasks = pgTable(
  'render_tasks',
  {
    jobId: text('job_id').notNull().references(() => jobs.id),
    index: integer('index').notNull(),
    type: text('type').$type<'frames' | 'assembly'>().notNull(),
    frameStart: integer('frame_start').notNull(),
    frameEnd: integer('frame_end').notNull(),
    frameStep: integer('frame_step').notNull(),
    status: text('status').$type<TaskStatus>().notNull(),
    /** Bumped each time the task is put on the queue again (a retry, a requeue): part of its queue id and attempt numbers. */
    generation: integer('generation').notNull().default(0),
    /** The run now or last active: its attempt number in usage and job_attempts. */
    attempt: integer('attempt'),
    workerId: text('worker_id'),
    framesDone: integer('frames_done').notNull().default(0),
    progress: doublePrecision('progress').notNull().default(0),
    failures: jsonb('failures').$type<TaskFailure[]>().notNull().default(sql`'[]'::jsonb`),
    outputs: jsonb('outputs').$type<TaskOutput[]>().notNull().default(sql`'[]'::jsonb`),
    /** The newest frame's thumbnail (a file id), for the job's preview. */
    previewFile: text('preview_file'),
    secondsPerFrame: doublePrecision('seconds_per_frame'),
    startedAt: at('started_at'),
    endedAt: at('ended_at'),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.index] }), index('render_tasks_status_idx').on(t.status)],
);

export const renderTemplates = pgTable('render_templates', {
  name: text('name').primaryKey(),
  definition: jsonb('definition').notNull(),
  createdBy: text('created_by').notNull(),
  createdAt: at('created_at').notNull().defaultNow(),
});

/** Workers that failed a job's tasks too often: they take no more of its tasks. */
export const renderBlocklist = pgTable(
  'render_blocklist',
  {
    jobId: text('job_id').notNull().references(() => jobs.id),
    workerId: text('worker_id').notNull(),
    failures: integer('failures').notNull(),
    createdAt: at('created_at').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.jobId, t.workerId] })],
);

export type RenderTaskRow = typeof renderTasks.$inferSelect;
