CREATE TABLE "job_row_domains" (
	"job_id" uuid NOT NULL,
	"first_row" integer NOT NULL,
	"domains" text[] NOT NULL,
	CONSTRAINT "job_row_domains_job_id_first_row_pk" PRIMARY KEY("job_id","first_row")
);
--> statement-breakpoint
-- A chunk's array (some 300 KB) goes out of line without compression: pglz on each would cost
-- CPU during the read and saves little on short domains.
ALTER TABLE "job_row_domains" ALTER COLUMN "domains" SET STORAGE EXTERNAL;
