CREATE TABLE "applicants" (
	"id" text PRIMARY KEY NOT NULL,
	"name_enc" text NOT NULL,
	"id_number_enc" text NOT NULL,
	"phone_enc" text NOT NULL,
	"bank_account_enc" text,
	"id_number_hash" text NOT NULL,
	"phone_hash" text NOT NULL,
	"monthly_income_fen" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "applications" (
	"id" text PRIMARY KEY NOT NULL,
	"workflow_id" text NOT NULL,
	"applicant_id" text NOT NULL,
	"channel" text NOT NULL,
	"branch_id" text NOT NULL,
	"dealer_id" text,
	"submitted_by" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"term_months" integer NOT NULL,
	"repayment_method" text NOT NULL,
	"stage" text DEFAULT 'intake' NOT NULL,
	"pending_task" text,
	"risk_grade" text,
	"loan_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "applications_workflow_id_unique" UNIQUE("workflow_id")
);
--> statement-breakpoint
CREATE TABLE "documents" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"type" text NOT NULL,
	"uri" text NOT NULL,
	"sha256" text NOT NULL,
	"ocr_status" text DEFAULT 'pending' NOT NULL,
	"ocr_result" jsonb,
	"submitted_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"request_hash" text NOT NULL,
	"status" text DEFAULT 'in_progress' NOT NULL,
	"response_status" integer,
	"response_body" jsonb,
	"response_headers" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone,
	CONSTRAINT "idempotency_keys_scope_key_pk" PRIMARY KEY("scope","key")
);
--> statement-breakpoint
CREATE TABLE "loan_events" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"event_key" text NOT NULL,
	"application_id" text,
	"kind" text NOT NULL,
	"actor" text NOT NULL,
	"stage" text,
	"data" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"before" jsonb,
	"after" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "loan_events_event_key_unique" UNIQUE("event_key")
);
--> statement-breakpoint
CREATE TABLE "vehicles" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"vin" text NOT NULL,
	"make" text NOT NULL,
	"model" text NOT NULL,
	"year" integer NOT NULL,
	"condition" text NOT NULL,
	"energy" text NOT NULL,
	"usage" text NOT NULL,
	"price_fen" bigint NOT NULL,
	"mileage_km" integer NOT NULL,
	"first_registration_date" text,
	CONSTRAINT "vehicles_application_id_unique" UNIQUE("application_id")
);
--> statement-breakpoint
ALTER TABLE "applications" ADD CONSTRAINT "applications_applicant_id_applicants_id_fk" FOREIGN KEY ("applicant_id") REFERENCES "public"."applicants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "documents" ADD CONSTRAINT "documents_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "vehicles" ADD CONSTRAINT "vehicles_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "applicants_id_number_hash_idx" ON "applicants" USING btree ("id_number_hash");--> statement-breakpoint
CREATE INDEX "applicants_phone_hash_idx" ON "applicants" USING btree ("phone_hash");--> statement-breakpoint
CREATE INDEX "applications_queue_idx" ON "applications" USING btree ("stage","pending_task","created_at","id");--> statement-breakpoint
CREATE INDEX "applications_created_idx" ON "applications" USING btree ("created_at","id");--> statement-breakpoint
CREATE INDEX "applications_applicant_idx" ON "applications" USING btree ("applicant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "documents_app_sha_idx" ON "documents" USING btree ("application_id","type","sha256");--> statement-breakpoint
CREATE INDEX "loan_events_application_idx" ON "loan_events" USING btree ("application_id","seq");