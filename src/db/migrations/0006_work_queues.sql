CREATE TABLE "task_claims" (
	"application_id" text PRIMARY KEY NOT NULL,
	"task_kind" text NOT NULL,
	"task_since" timestamp with time zone,
	"claimed_by" text NOT NULL,
	"claimed_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "pending_since" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "sla_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "deadline_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "escalated" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "approvals_needed" integer;--> statement-breakpoint
ALTER TABLE "applications" ADD COLUMN "approved_by" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "task_claims" ADD CONSTRAINT "task_claims_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "task_claims_claimant_idx" ON "task_claims" USING btree ("claimed_by","expires_at");--> statement-breakpoint
CREATE INDEX "applications_escalated_idx" ON "applications" USING btree ("sla_at","id") WHERE escalated;--> statement-breakpoint
CREATE INDEX "applications_sla_idx" ON "applications" USING btree ("sla_at","id") WHERE pending_task is not null;--> statement-breakpoint
CREATE INDEX "applications_branch_idx" ON "applications" USING btree ("branch_id","stage");