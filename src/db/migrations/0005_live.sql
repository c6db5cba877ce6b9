CREATE TABLE "live_channels" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"name" text,
	"status" text NOT NULL,
	"ladder" jsonb NOT NULL,
	"rungs" jsonb,
	"segment_duration" integer NOT NULL,
	"window_size" integer NOT NULL,
	"deadline_factor" double precision NOT NULL,
	"archive" boolean NOT NULL,
	"stream_key" text NOT NULL,
	"last_seq" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "live_segments" (
	"channel_id" text NOT NULL,
	"name" text NOT NULL,
	"seq" integer,
	"status" text NOT NULL,
	"gap_reason" text,
	"discontinuity" boolean DEFAULT false NOT NULL,
	"duration" double precision,
	"probe" jsonb,
	"arrived_at" timestamp with time zone NOT NULL,
	"deadline_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"published_at" timestamp with time zone,
	"late_discarded" boolean DEFAULT false NOT NULL,
	"worker_id" text,
	"path" text,
	"rungs" jsonb,
	CONSTRAINT "live_segments_channel_id_name_pk" PRIMARY KEY("channel_id","name")
);
--> statement-breakpoint
ALTER TABLE "live_channels" ADD CONSTRAINT "live_channels_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "live_segments" ADD CONSTRAINT "live_segments_channel_id_live_channels_id_fk" FOREIGN KEY ("channel_id") REFERENCES "public"."live_channels"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "live_segments_seq_idx" ON "live_segments" USING btree ("channel_id","seq");