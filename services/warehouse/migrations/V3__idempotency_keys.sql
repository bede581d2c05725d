-- Idempotency-Key of POST /checkout: the first answer is stored with the purchase, in
-- the same transaction, and replayed for a repeated key with the same request.
CREATE TABLE idempotency_keys (
    idempotency_key VARCHAR(128)  NOT NULL PRIMARY KEY,
    -- the request it was first used with (sku, quantity, requester)
    request         VARCHAR(300)  NOT NULL,
    status          SMALLINT      NOT NULL,
    response        TEXT          NOT NULL,
    created_at      DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY idempotency_keys_age (created_at)
) ENGINE = InnoDB;
