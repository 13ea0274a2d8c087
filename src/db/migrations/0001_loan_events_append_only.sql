-- The audit trail is append-only: corrections are new events, never edits.
CREATE OR REPLACE FUNCTION loan_events_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'loan_events is append-only (% refused)', TG_OP;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER loan_events_append_only
  BEFORE UPDATE OR DELETE ON loan_events
  FOR EACH ROW EXECUTE FUNCTION loan_events_refuse_change();
