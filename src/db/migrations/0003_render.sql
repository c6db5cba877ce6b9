CREATE TABLE "render_blocklist" (
	"job_id" text NOT NULL,
	"worker_id" text NOT NULL,
	"failures" integer NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "render_blocklist_job_id_worker_id_pk" PRIMARY KEY("job_id","worker_id")
);
--> statement-breakpoint
CREATE TABLE "render_tasks" (
	"job_id" text NOT NULL,
	"index" integer NOT NULL,
	"type" text NOT NULL,
	"frame_start" integer NOT NULL,
	"frame_end" integer NOT NULL,
	"frame_step" integer NOT NULL,
	"status" text NOT NULL,
	"generation" integer DEFAULT 0 NOT NULL,
	"attempt" integer,
	"worker_id" text,
	"frames_done" integer DEFAULT 0 NOT NULL,
	"progress" double precision DEFAULT 0 NOT NULL,
	"failures" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"outputs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"preview_file" text,
	"seconds_per_frame" double precision,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone,
	CONSTRAINT "render_tasks_job_id_index_pk" PRIMARY KEY("job_id","index")
);
--> statement-breakpoint
CREATE TABLE "render_templates" (
	"name" text PRIMARY KEY NOT NULL,
	"definition" jsonb NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "render_blocklist" ADD CONSTRAINT "render_blocklist_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "render_tasks" ADD CONSTRAINT "render_tasks_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "render_tasks_status_idx" ON "render_tasks" USING btree ("status");