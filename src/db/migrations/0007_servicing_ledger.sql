CREATE TABLE "loan_transactions" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"loan_id" text NOT NULL,
	"txn_id" text NOT NULL,
	"kind" text NOT NULL,
	"reference" text,
	"amount_fen" bigint,
	"value_date" date NOT NULL,
	"paid_at" timestamp with time zone,
	"mode" text,
	"component" text,
	"target_txn_id" text,
	"reason_code" text,
	"actor" text NOT NULL,
	"approved_by" text,
	"provider_ref" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "schedule_versions" (
	"loan_id" text NOT NULL,
	"version" integer NOT NULL,
	"reason" text NOT NULL,
	"created_by" text,
	"effective_date" date NOT NULL,
	"from_seq" integer NOT NULL,
	"mode" text,
	"principal_fen" bigint NOT NULL,
	"lines" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "schedule_versions_loan_id_version_pk" PRIMARY KEY("loan_id","version")
);
--> statement-breakpoint
ALTER TABLE "installments" ADD COLUMN "version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "installments" ADD COLUMN "penalty_fen" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "branch_id" text;--> statement-breakpoint
-- Loans booked before the ledger keep the terms they were signed with: no penalty interest and no
-- early-repayment fee (LEGACY_SERVICING_TERMS in src/domain/policy.ts). New loans get theirs at booking.
ALTER TABLE "loans" ADD COLUMN "servicing_terms" jsonb DEFAULT '{"penalty":{"rateMultiplePermille":0,"base":"principal","graceDays":3,"dayCountBasis":360},"costCapBps":2400,"allocation":{"order":["penalty","interest","principal"],"across":"instalment"},"earlyRepaymentFee":[]}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ALTER COLUMN "servicing_terms" DROP DEFAULT;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "position_as_of" date;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "outstanding_principal_fen" bigint;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "overdue_fen" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "penalty_fen" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "days_past_due" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "loans" ADD COLUMN "schedule_version" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "loan_transactions" ADD CONSTRAINT "loan_transactions_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "schedule_versions" ADD CONSTRAINT "schedule_versions_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "loan_transactions_txn_idx" ON "loan_transactions" USING btree ("loan_id","txn_id");--> statement-breakpoint
CREATE UNIQUE INDEX "loan_transactions_reference_idx" ON "loan_transactions" USING btree ("loan_id","reference") WHERE reference is not null;--> statement-breakpoint
CREATE INDEX "loan_transactions_loan_idx" ON "loan_transactions" USING btree ("loan_id","seq");--> statement-breakpoint
CREATE INDEX "loans_book_idx" ON "loans" USING btree ("status","bucket","branch_id","id");--> statement-breakpoint
-- Hand-written: the repayments recorded so far become the ledger's first transactions (value date:
-- the Shanghai date the money arrived), the loan book gets each loan's branch, and the old table goes.
INSERT INTO "loan_transactions" ("loan_id", "txn_id", "kind", "reference", "amount_fen", "value_date", "paid_at", "actor", "created_at")
SELECT "loan_id", 'ref:' || "reference", 'repayment', "reference", "amount_fen", (("paid_at" AT TIME ZONE 'UTC') + interval '8 hours')::date, "paid_at", "actor", "created_at"
  FROM "repayments" ORDER BY "created_at", "loan_id", "reference";--> statement-breakpoint
UPDATE "loans" SET "branch_id" = "applications"."branch_id" FROM "applications" WHERE "applications"."id" = "loans"."application_id";--> statement-breakpoint
DROP TABLE "repayments" CASCADE;
