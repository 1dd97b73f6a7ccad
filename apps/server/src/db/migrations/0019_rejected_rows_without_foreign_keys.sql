ALTER TABLE "rejected_rows" DROP CONSTRAINT "rejected_rows_org_id_organizations_id_fk";
--> statement-breakpoint
ALTER TABLE "rejected_rows" DROP CONSTRAINT "rejected_rows_job_id_jobs_id_fk";
