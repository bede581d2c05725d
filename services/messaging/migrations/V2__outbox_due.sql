-- The sweeper claims unpublished rows past their grace in the order they were written.
-- With (published_at, created_at, id) its locking read ends where the rows too young for
-- it begin: under (published_at, id) it scanned every unpublished row and MariaDB kept
-- the lock on each one it passed over, so a second replica's sweeper found all of them
-- locked (SKIP LOCKED) while the first one's publish hung.
ALTER TABLE outbox
    ADD KEY outbox_due (published_at, created_at, id),
    DROP KEY outbox_pending;
