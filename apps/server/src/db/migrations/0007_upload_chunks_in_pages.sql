ALTER TABLE "upload_chunks" ADD CONSTRAINT "upload_chunks_fit_a_page" CHECK (octet_length("upload_chunks"."data") <= 8000);--> statement-breakpoint
-- Rows of at most 8,000 bytes fit a page as they are: no TOAST, no compression.
ALTER TABLE "upload_chunks" ALTER COLUMN "data" SET STORAGE PLAIN;
