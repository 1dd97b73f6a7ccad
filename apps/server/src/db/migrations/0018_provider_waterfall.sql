ALTER TABLE "companies" ADD COLUMN "provider_step" smallint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "companies" ADD COLUMN "step_business_id" text;--> statement-breakpoint
ALTER TABLE "companies" ADD COLUMN "provenance" jsonb;--> statement-breakpoint
ALTER TABLE "companies" ADD COLUMN "match_confidence" real;--> statement-breakpoint
ALTER TABLE "companies" ADD COLUMN "failed_step_error" jsonb;--> statement-breakpoint
-- A company waiting for a retry kept its match in business_id; it is now the step's own column.
UPDATE "companies" SET "step_business_id" = "business_id" WHERE "status" IN ('queued', 'processing') AND "business_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "providers" text[];--> statement-breakpoint
UPDATE "jobs" SET "providers" = ARRAY["provider"];--> statement-breakpoint
ALTER TABLE "jobs" ALTER COLUMN "providers" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "estimate_providers" jsonb;
