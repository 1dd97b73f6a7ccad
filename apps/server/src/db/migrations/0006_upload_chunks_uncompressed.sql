-- Uploads are stored as received and read once: compressing them costs more time than it saves.
ALTER TABLE "upload_chunks" ALTER COLUMN "data" SET STORAGE EXTERNAL;
