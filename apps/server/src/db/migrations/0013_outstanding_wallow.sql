ALTER TABLE "jobs" ADD COLUMN "header_row" integer;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "input_delimiter" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "input_encoding" text;