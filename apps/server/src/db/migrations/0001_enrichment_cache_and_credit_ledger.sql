CREATE TABLE "enrichment_cache" (
	"provider" text NOT NULL,
	"domain" text NOT NULL,
	"business_id" text,
	"firmographics" jsonb,
	"fetched_at" timestamp with time zone NOT NULL,
	CONSTRAINT "enrichment_cache_provider_domain_pk" PRIMARY KEY("provider","domain")
);
--> statement-breakpoint
CREATE TABLE "provider_calls" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"job_id" uuid NOT NULL,
	"provider" text NOT NULL,
	"endpoint" text NOT NULL,
	"items" integer NOT NULL,
	"credits" integer NOT NULL,
	"status" integer,
	"duration_ms" integer NOT NULL,
	"correlation_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "companies" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "companies" ADD COLUMN "fetched_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "force_refresh" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "max_credits" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "estimate_cache_hits" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "estimate_provider_calls" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "estimate_credits" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "estimate_seconds" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "cache_hits" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "provider_calls" ADD CONSTRAINT "provider_calls_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "provider_calls_job_idx" ON "provider_calls" USING btree ("job_id");