-- The factory's own database: production orders (its outbox of completions is the
-- outbox's own migration, services/messaging/migrations).

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
