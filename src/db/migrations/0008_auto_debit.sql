CREATE TABLE "debit_attempts" (
	"idempotency_key" text PRIMARY KEY NOT NULL,
	"loan_id" text NOT NULL,
	"seq" integer NOT NULL,
	"attempt" integer NOT NULL,
	"on_date" date NOT NULL,
	"mandate_id" text NOT NULL,
	"amount_fen" bigint NOT NULL,
	"status" text DEFAULT 'requested' NOT NULL,
	"failure_code" text,
	"debit_id" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"answered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "loan_mandates" (
	"mandate_id" text PRIMARY KEY NOT NULL,
	"loan_id" text NOT NULL,
	"bank_code" text NOT NULL,
	"card_last4" text NOT NULL,
	"card_number_enc" text NOT NULL,
	"card_number_hash" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"registered_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	"ended_by" text
);
--> statement-breakpoint
ALTER TABLE "debit_attempts" ADD CONSTRAINT "debit_attempts_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "debit_attempts" ADD CONSTRAINT "debit_attempts_mandate_id_loan_mandates_mandate_id_fk" FOREIGN KEY ("mandate_id") REFERENCES "public"."loan_mandates"("mandate_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "loan_mandates" ADD CONSTRAINT "loan_mandates_loan_id_loans_id_fk" FOREIGN KEY ("loan_id") REFERENCES "public"."loans"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "debit_attempts_once_idx" ON "debit_attempts" USING btree ("loan_id","seq","attempt");--> statement-breakpoint
CREATE INDEX "debit_attempts_open_idx" ON "debit_attempts" USING btree ("on_date") WHERE status in ('requested', 'pending');--> statement-breakpoint
CREATE UNIQUE INDEX "loan_mandates_one_active_idx" ON "loan_mandates" USING btree ("loan_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "loan_mandates_card_hash_idx" ON "loan_mandates" USING btree ("card_number_hash");