ALTER TABLE "enrichment_cache" ADD COLUMN "org_id" text DEFAULT '' NOT NULL;--> statement-breakpoint
ALTER TABLE "enrichment_cache" DROP CONSTRAINT "enrichment_cache_provider_domain_pk";--> statement-breakpoint
ALTER TABLE "enrichment_cache" ADD CONSTRAINT "enrichment_cache_provider_domain_org_id_pk" PRIMARY KEY("provider","domain","org_id");--> statement-breakpoint
-- Entries written before entries had an organization keep '' (read with scope installation only).
-- Each organization that already holds exactly such an entry (a company of its own with that
-- domain, provider and fetched_at) gets its own copy, so an upgrade asks the provider nothing again
-- and tells no organization anything it did not have.
INSERT INTO "enrichment_cache" ("provider", "domain", "org_id", "business_id", "firmographics", "fetched_at")
SELECT DISTINCT ec."provider", ec."domain", c."org_id", ec."business_id", ec."firmographics", ec."fetched_at"
FROM "enrichment_cache" ec
JOIN "companies" c ON c."domain" = ec."domain" AND c."fetched_at" = ec."fetched_at"
JOIN "jobs" j ON j."id" = c."job_id" AND j."provider" = ec."provider"
WHERE ec."org_id" = '' AND c."status" IN ('enriched', 'not_found')
ON CONFLICT DO NOTHING;
