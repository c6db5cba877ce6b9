CREATE TABLE "billing_outbox" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"event" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "charges" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"job_id" text,
	"kind" text,
	"attempt" integer,
	"meter" text NOT NULL,
	"gpu_model" text,
	"resolution" text,
	"codec" text,
	"quantity" double precision NOT NULL,
	"billed_quantity" double precision NOT NULL,
	"unit" text NOT NULL,
	"price_id" text,
	"unit_price_nanos" bigint NOT NULL,
	"amount_micros" bigint NOT NULL,
	"currency" text NOT NULL,
	"billed_to" text NOT NULL,
	"reason" text NOT NULL,
	"period" text NOT NULL,
	"occurred_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"id" text PRIMARY KEY NOT NULL,
	"meter" text NOT NULL,
	"gpu_model" text,
	"resolution" text,
	"codec" text,
	"unit_price_nanos" bigint NOT NULL,
	"currency" text NOT NULL,
	"rounding" text DEFAULT 'none' NOT NULL,
	"increment" double precision DEFAULT 0 NOT NULL,
	"minimum" double precision DEFAULT 0 NOT NULL,
	"effective_from" timestamp with time zone NOT NULL,
	"note" text DEFAULT '' NOT NULL,
	"created_by" text DEFAULT 'malan' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tenant_quotas" (
	"tenant_id" text PRIMARY KEY NOT NULL,
	"max_concurrent_jobs" integer,
	"gpu_seconds_per_month" double precision,
	"spending_limit_micros" bigint,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "usage_job_idx";--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "billed_to" text;--> statement-breakpoint
ALTER TABLE "job_attempts" ADD COLUMN "billing_reason" text;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "kind" text;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "meters" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "final" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "occurred_at" timestamp with time zone DEFAULT now() NOT NULL;--> statement-breakpoint
ALTER TABLE "usage_events" ADD COLUMN "rated_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "charges" ADD CONSTRAINT "charges_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tenant_quotas" ADD CONSTRAINT "tenant_quotas_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "billing_outbox_event_idx" ON "billing_outbox" USING btree ("event_id");--> statement-breakpoint
CREATE INDEX "billing_outbox_pending_idx" ON "billing_outbox" USING btree ("delivered_at","seq");--> statement-breakpoint
CREATE INDEX "charges_tenant_period_idx" ON "charges" USING btree ("tenant_id","period");--> statement-breakpoint
CREATE INDEX "charges_job_idx" ON "charges" USING btree ("job_id");--> statement-breakpoint
CREATE INDEX "prices_meter_idx" ON "prices" USING btree ("meter","effective_from");--> statement-breakpoint
CREATE INDEX "usage_job_idx" ON "usage_events" USING btree ("job_id","attempt");--> statement-breakpoint
-- The default price book (USD), effective from the start: compute is billed per second by the
-- hardware that ran it (rounded up to the millisecond), as Replicate and RunPod bill; the other
-- meters are measured and shown at no charge until an operator prices them (POST /v1/admin/prices).
INSERT INTO "prices" ("id", "meter", "gpu_model", "unit_price_nanos", "currency", "rounding", "increment", "effective_from", "note") VALUES
  ('price_default_gpu', 'gpu_seconds', NULL, 1400000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'any GPU without a price of its own'),
  ('price_default_h100', 'gpu_seconds', 'NVIDIA H100 80GB HBM3', 1525000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'H100'),
  ('price_default_h200', 'gpu_seconds', 'NVIDIA H200', 1800000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'H200'),
  ('price_default_a100', 'gpu_seconds', 'NVIDIA A100-SXM4-80GB', 1400000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'A100 80GB'),
  ('price_default_l40s', 'gpu_seconds', 'NVIDIA L40S', 975000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'L40S'),
  ('price_default_l4', 'gpu_seconds', 'NVIDIA L4', 240000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'L4'),
  ('price_default_cpu', 'cpu_seconds', NULL, 100000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'CPU time'),
  ('price_default_output', 'output_minutes', NULL, 0, 'USD', 'none', 0, '1970-01-01T00:00:00Z', 'metered; transcodes are billed by compute unless priced here'),
  ('price_default_frames', 'frames_rendered', NULL, 0, 'USD', 'none', 0, '1970-01-01T00:00:00Z', 'metered; renders are billed by compute unless priced here'),
  ('price_default_predictions', 'predictions', NULL, 0, 'USD', 'none', 0, '1970-01-01T00:00:00Z', 'metered; predictions are billed by compute unless priced here'),
  ('price_default_predict', 'predict_seconds', NULL, 0, 'USD', 'none', 0, '1970-01-01T00:00:00Z', 'metered; predictions are billed by compute unless priced here'),
  ('price_default_live', 'live_channel_hours', NULL, 500000000, 'USD', 'up', 0.001, '1970-01-01T00:00:00Z', 'a live channel, per hour it is on'),
  ('price_default_storage', 'storage_gb_days', NULL, 800000, 'USD', 'none', 0, '1970-01-01T00:00:00Z', 'stored files, per GB (10^9 bytes) and day');
