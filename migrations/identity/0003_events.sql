-- Messages now travel as domain events (platform event_outbox, see
-- docs/events.md); the first, undelivered outbox goes.
drop table outbox;
