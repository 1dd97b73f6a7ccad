CREATE TABLE "credit_reservations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"org_id" text NOT NULL,
	"job_id" uuid NOT NULL,
	"credits" integer NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "credit_reservations_credits_positive" CHECK ("credit_reservations"."credits" > 0)
);
--> statement-breakpoint
ALTER TABLE "credit_reservations" ADD CONSTRAINT "credit_reservations_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "credit_reservations_job_idx" ON "credit_reservations" USING btree ("job_id");