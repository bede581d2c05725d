-- The factory's own database: production orders and the outbox of completions.

CREATE TABLE production_orders (
    id               CHAR(36)     NOT NULL PRIMARY KEY,
    -- a repeated request with the same Idempotency-Key returns this order
    idempotency_key  VARCHAR(128) NULL,
    message_group_id VARCHAR(128) NOT NULL DEFAULT '',
    product_id       VARCHAR(32)  NOT NULL,
    quantity         INT          NOT NULL,
    factory_id       VARCHAR(32)  NOT NULL DEFAULT '',
    requester        VARCHAR(100) NOT NULL DEFAULT '',
    callback_url     VARCHAR(500) NULL,
    -- the request body as received, echoed in the legacy reply
    request          TEXT         NOT NULL,
    correlation_id   VARCHAR(128) NOT NULL DEFAULT '',
    created_at       DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    ready_at         DATETIME(6)  NOT NULL,
    completed_at     DATETIME(6)  NULL,
    UNIQUE KEY production_orders_idempotency (idempotency_key),
    KEY production_orders_due (completed_at, ready_at),
    CONSTRAINT production_orders_quantity_positive CHECK (quantity > 0)
) ENGINE = InnoDB;

CREATE TABLE outbox (
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
