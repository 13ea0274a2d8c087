CREATE TABLE "open_applications" (
	"id_number_hash" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"claimed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"workflow_seen_at" timestamp with time zone,
	CONSTRAINT "open_applications_application_id_unique" UNIQUE("application_id")
);
--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "workflow_started_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "applications_unstarted_idx" ON "applications" USING btree ("created_at","id") WHERE workflow_started_at is null;--> statement-breakpoint
-- Hand-written: applications already past intake have had a workflow (it mirrored their stage).
UPDATE "applications" SET "workflow_started_at" = "updated_at" WHERE "stage" <> 'intake';--> statement-breakpoint
-- Hand-written: each person's earliest application still in origination holds the claim, as the
-- old screen ("the later one is the duplicate") decided; one still at intake is not yet confirmed.
INSERT INTO "open_applications" ("id_number_hash", "application_id", "claimed_at", "workflow_seen_at")
SELECT DISTINCT ON (p."id_number_hash") p."id_number_hash", a."id", a."created_at",
       CASE WHEN a."stage" <> 'intake' THEN a."updated_at" END
FROM "applications" a JOIN "applicants" p ON p."id" = a."applicant_id"
WHERE a."stage" IN ('intake', 'document_check', 'phone_verification', 'valuation', 'approval', 'signing', 'disbursement')
ORDER BY p."id_number_hash", a."created_at", a."id";
