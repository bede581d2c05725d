-- The warehouse: products and their stock, sales, restock requests and applied
-- production orders (the outbox of events to publish is the outbox's own migration,
-- services/messaging/migrations). Works on MySQL 8 and MariaDB 10.11 alike.

CREATE TABLE products (
    sku              VARCHAR(32)  NOT NULL PRIMARY KEY,
    name             VARCHAR(200) NOT NULL,
    price            INT UNSIGNED NOT NULL,
    stock            INT          NOT NULL,
    -- stock when the product was added: initial + produced - sold == stock
    initial_stock    INT          NOT NULL,
    -- units ordered from the factory when the product runs out (at least the shortfall)
    reorder_quantity INT          NOT NULL DEFAULT 10,
    factory_id       VARCHAR(32)  NOT NULL,
    factory_name     VARCHAR(200) NOT NULL DEFAULT '',
    created_at       DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT products_stock_not_negative CHECK (stock >= 0),
    CONSTRAINT products_reorder_positive CHECK (reorder_quantity > 0)
) ENGINE = InnoDB;

CREATE TABLE orders (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    sku            VARCHAR(32)     NOT NULL,
    quantity       INT             NOT NULL,
    requester      VARCHAR(100)    NOT NULL DEFAULT '',
    correlation_id VARCHAR(128)    NOT NULL DEFAULT '',
    created_at     DATETIME(6)     NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY orders_by_sku (sku),
    CONSTRAINT orders_quantity_positive CHECK (quantity > 0)
) ENGINE = InnoDB;

CREATE TABLE restock_requests (
    id                  CHAR(36)     NOT NULL PRIMARY KEY,
    sku                 VARCHAR(32)  NOT NULL,
    quantity            INT          NOT NULL,
    factory_id          VARCHAR(32)  NOT NULL,
    requester           VARCHAR(100) NOT NULL DEFAULT '',
    status              VARCHAR(16)  NOT NULL DEFAULT 'requested',
    -- equals sku while the request is open, NULL once fulfilled: the unique key
    -- allows one open request per sku (NULLs never collide)
    open_sku            VARCHAR(32)  NULL,
    -- failed purchases that joined this request
    shortages           INT          NOT NULL DEFAULT 1,
    correlation_id      VARCHAR(128) NOT NULL DEFAULT '',
    production_order_id CHAR(36)     NULL,
    requested_at        DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    ordered_at          DATETIME(6)  NULL,
    produced_at         DATETIME(6)  NULL,
    fulfilled_at        DATETIME(6)  NULL,
    UNIQUE KEY restock_one_open_per_sku (open_sku),
    KEY restock_by_sku (sku)
) ENGINE = InnoDB;

-- Each production order is applied to stock once: its id is the idempotency key.
CREATE TABLE applied_production_orders (
    production_order_id CHAR(36)    NOT NULL PRIMARY KEY,
    restock_request_id  CHAR(36)    NOT NULL,
    sku                 VARCHAR(32) NOT NULL,
    quantity            INT         NOT NULL,
    applied_at          DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    KEY applied_by_sku (sku)
) ENGINE = InnoDB;
