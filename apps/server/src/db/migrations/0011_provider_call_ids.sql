ALTER TABLE "provider_calls" ADD COLUMN "call_id" uuid;--> statement-breakpoint
CREATE UNIQUE INDEX "provider_calls_call_job_uq" ON "provider_calls" USING btree ("call_id","job_id");