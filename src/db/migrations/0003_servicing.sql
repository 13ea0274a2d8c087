CREATE TABLE "installments" (
	"loan_id" text NOT NULL,
	"seq" integer NOT NULL,
	"period_start_date" date NOT NULL,
	"due_date" date NOT NULL,
	"principal_fen" bigint NOT NULL,
	"interest_fen" bigint NOT NULL,
	"total_fen" bigint NOT NULL,
	"opening_balance_fen" bigint NOT NULL,
	"closing_balance_fen" bigint NOT NULL,
	"paid_fen" bigint DEFAULT 0 NOT NULL,
	"status" text DEFAULT 'scheduled' NOT NULL,
	"paid_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "installments_loan_id_seq_pk" PRIMARY KEY("loan_id","seq")
);
--> statement-breakpoint
CREATE TABLE "loans" (
	"id" text PRIMARY KEY NOT NULL,
	"application_id" text NOT NULL,
	"applicant_id" text NOT NULL,
	"principal_fen" bigint NOT NULL,
	"annual_rate_bps" integer NOT NULL,
	"apr_bps" integer NOT NULL,
	"term_months" integer NOT NULL,
	"repayment_method" text NOT NULL,
	"upfront_fee_fen" bigint DEFAULT 0 NOT NULL,
	"disbursed_at" timestamp with time zone NOT NULL,
	"disbursement_date" date NOT NULL,
	"transfer_id" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"bucket" text,
	"unapplied_fen" bigint DEFAULT 0 NOT NULL,
	"collateral_registration_outstanding" boolean DEFAULT false NOT NULL,
	"collateral_registration_ref" text,
	"collateral_registered_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"closed_how" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "loans_application_id_unique" UNIQUE("application_id")
);
--> statement-breakpoint
CREATE TABLE "reminders" (
	"message_id" text PRIMARY KEY NOT NULL,
	"loan_id" text NOT NULL,
	"seq" integer NOT NULL,
	"kind" text NOT NULL,
	"remind_on" date NOT NULL,
	"template" text NOT NULL,
	"text" text NOT NULL,
	"amount_fen" bigint,
	"status" text DEFAULT 'pending' NOT NULL,
	"provider_message_id" text,
	"code" text,
	"source" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "repayments" (
	"loan_id" text NOT NULL,
	"reference" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"paid_at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"kind" text DEFAULT 'regular' NOT NULL,
	"allocations" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"fee_fen" bigint DEFAULT 0 NOT NULL,
	"unapplied_fen" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "repayments_loan_id_reference_pk" PRIMARY KEY("loan_id","reference")
);
--> statement-breakpoint
ALTER TABLE "installments" ADD CONSTRAINT "installments_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loans" ADD CONSTRAINT "loans_application_id_applications_id_fk" FOREIGN KEY ("application_id") REFERENCES "public"."applications"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loans" ADD CONSTRAINT "loans_applicant_id_applicants_id_fk" FOREIGN KEY ("applicant_id") REFERENCES "public"."applicants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "reminders" ADD CONSTRAINT "reminders_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "repayments" ADD CONSTRAINT "repayments_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "installments_unpaid_due_idx" ON "installments" USING btree ("due_date","loan_id","seq") WHERE status <> 'paid';--> statement-breakpoint
CREATE INDEX "installments_status_due_idx" ON "installments" USING btree ("status","due_date");--> statement-breakpoint
CREATE INDEX "loans_status_bucket_idx" ON "loans" USING btree ("status","bucket");--> statement-breakpoint
CREATE INDEX "loans_applicant_idx" ON "loans" USING btree ("applicant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "reminders_once_idx" ON "reminders" USING btree ("loan_id","seq","kind","remind_on");--> statement-breakpoint
CREATE INDEX "reminders_pending_idx" ON "reminders" USING btree ("remind_on") WHERE status = 'pending';