ALTER TABLE "companies" DROP CONSTRAINT "companies_org_id_organizations_id_fk";
--> statement-breakpoint
ALTER TABLE "companies" DROP CONSTRAINT "companies_job_id_jobs_id_fk";
