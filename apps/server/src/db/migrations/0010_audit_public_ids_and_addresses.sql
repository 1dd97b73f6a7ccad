DROP INDEX "audit_log_org_id_idx";--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "public_id" uuid DEFAULT gen_random_uuid() NOT NULL;--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "client_ip" text;--> statement-breakpoint
CREATE INDEX "audit_log_org_time_idx" ON "audit_log" USING btree ("org_id","created_at" DESC NULLS LAST,"public_id" DESC NULLS LAST);