CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"event_id" uuid NOT NULL,
	"endpoint_id" uuid NOT NULL,
	"org_id" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"retry_step" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_token" uuid,
	"lease_until" timestamp with time zone,
	"last_attempt_at" timestamp with time zone,
	"last_status_code" integer,
	"last_error" text,
	"delivered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" text NOT NULL,
	"url" text NOT NULL,
	"events" text[] NOT NULL,
	"description" text,
	"secret" text NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_events" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"org_id" text NOT NULL,
	"job_id" uuid NOT NULL,
	"type" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"payload" jsonb
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_event_id_webhook_events_id_fk" FOREIGN KEY ("event_id") REFERENCES "public"."webhook_events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_endpoints" ADD CONSTRAINT "webhook_endpoints_org_id_organizations_id_fk" FOREIGN KEY ("org_id") REFERENCES "public"."organizations"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_events" ADD CONSTRAINT "webhook_events_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "webhook_deliveries_event_endpoint_idx" ON "webhook_deliveries" USING btree ("event_id","endpoint_id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_due_idx" ON "webhook_deliveries" USING btree ("next_attempt_at") WHERE "webhook_deliveries"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_endpoint_idx" ON "webhook_deliveries" USING btree ("endpoint_id","created_at");--> statement-breakpoint
CREATE INDEX "webhook_endpoints_org_idx" ON "webhook_endpoints" USING btree ("org_id");--> statement-breakpoint
CREATE INDEX "webhook_events_job_idx" ON "webhook_events" USING btree ("job_id");--> statement-breakpoint
-- Webhook events come from the jobs table itself (docs/adr/0007): whatever code path sets a job
-- completed, failed, paused or cancelled, the event and its deliveries are written in the same
-- transaction, or not at all. An organization without an endpoint for the event pays one index probe.
CREATE FUNCTION "webhook_job_event"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  event_type text := 'job.' || NEW.status;
  new_event uuid;
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM "webhook_endpoints" e WHERE e."org_id" = NEW."org_id" AND event_type = ANY (e."events")
  ) THEN
    RETURN NULL;
  END IF;
  INSERT INTO "webhook_events" ("org_id", "job_id", "type")
    VALUES (NEW."org_id", NEW."id", event_type)
    RETURNING "id" INTO new_event;
  INSERT INTO "webhook_deliveries" ("event_id", "endpoint_id", "org_id")
    SELECT new_event, e."id", e."org_id" FROM "webhook_endpoints" e
    WHERE e."org_id" = NEW."org_id" AND event_type = ANY (e."events");
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "jobs_webhook_status_update" AFTER UPDATE OF "status" ON "jobs" FOR EACH ROW
  WHEN (OLD."status" IS DISTINCT FROM NEW."status" AND NEW."status" IN ('completed', 'failed', 'paused', 'cancelled'))
  EXECUTE FUNCTION "webhook_job_event"();
--> statement-breakpoint
CREATE TRIGGER "jobs_webhook_status_insert" AFTER INSERT ON "jobs" FOR EACH ROW
  WHEN (NEW."status" IN ('completed', 'failed', 'paused', 'cancelled'))
  EXECUTE FUNCTION "webhook_job_event"();
