-- The transactional outbox (stockflow_messaging::outbox), in every database whose service
-- announces its changes: each event is written here in the transaction of the change.
-- IF NOT EXISTS: databases made before this migration existed got the same table from
-- their service's own V1, which no longer creates it.

CREATE TABLE IF NOT EXISTS outbox (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    topic          VARCHAR(64)     NOT NULL,
    event_type     VARCHAR(64)     NOT NULL,
    aggregate_id   VARCHAR(64)     NOT NULL,
    correlation_id VARCHAR(128)    NOT NULL,
    payload        TEXT            NOT NULL,
    created_at     DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    published_at   DATETIME(6)     NULL,
    attempts       INT             NOT NULL DEFAULT 0,
    last_error     VARCHAR(1000)   NULL,
    KEY outbox_pending (published_at, id),
    KEY outbox_by_aggregate (aggregate_id)
) ENGINE = InnoDB;
