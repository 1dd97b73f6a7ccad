CREATE TABLE "job_rows" (
	"job_id" uuid NOT NULL,
	"row_number" integer NOT NULL,
	"record" text[] NOT NULL,
	"domain" text,
	"reason" text,
	"message" text,
	CONSTRAINT "job_rows_job_id_row_number_pk" PRIMARY KEY("job_id","row_number")
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "input_header" text[];