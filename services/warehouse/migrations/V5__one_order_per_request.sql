-- At most one applied production order per restock request, held by a unique key.
--
-- A production order that names no restock request (a legacy client ordering from the
-- factory directly) has NULL here, never '', so such orders never collide and each is
-- still applied once (its production order id is the primary key).
--
-- A second production order for a request that another order already fulfilled is not
-- applied: it is recorded in `surplus_arrivals` for a person to decide on.

ALTER TABLE applied_production_orders MODIFY restock_request_id CHAR(36) NULL;
UPDATE applied_production_orders SET restock_request_id = NULL WHERE restock_request_id = '';

CREATE TABLE surplus_arrivals (
    -- the production order that arrived for an already fulfilled request (once each)
    production_order_id CHAR(36)     NOT NULL PRIMARY KEY,
    restock_request_id  CHAR(36)     NOT NULL,
    sku                 VARCHAR(32)  NOT NULL,
    quantity            INT          NOT NULL,
    -- the production order that had fulfilled the request (NULL: unknown)
    fulfilled_by        CHAR(36)     NULL,
    ordered_at          DATETIME(6)  NULL,
    produced_at         DATETIME(6)  NULL,
    arrived_at          DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    -- when the ops alert about it was published (NULL: not yet; the message is retried)
    alerted_at          DATETIME(6)  NULL,
    -- a person's decision (`stockctl surplus settle`): 'kept' adds the goods to stock,
    -- 'returned' does not; NULL while undecided
    settlement          VARCHAR(16)  NULL,
    settled_at          DATETIME(6)  NULL,
    CONSTRAINT surplus_settlement_known CHECK (settlement IN ('kept', 'returned')),
    CONSTRAINT surplus_settled_together CHECK ((settlement IS NULL) = (settled_at IS NULL)),
    KEY surplus_by_request (restock_request_id),
    KEY surplus_by_sku (sku)
) ENGINE = InnoDB;

-- Existing doubles: for each request keep the order that fulfilled it (the one
-- restock_requests names; failing that, the earliest applied) and record the others as
-- surplus, settled as 'kept': their stock was added back then, so they stay applied, as
-- orders of no request, and the books still balance.
INSERT INTO surplus_arrivals
    (production_order_id, restock_request_id, sku, quantity, fulfilled_by, arrived_at, alerted_at,
     settlement, settled_at)
SELECT a.production_order_id, a.restock_request_id, a.sku, a.quantity, r.production_order_id,
       a.applied_at, a.applied_at, 'kept', a.applied_at
FROM applied_production_orders a
LEFT JOIN restock_requests r ON r.id = a.restock_request_id
WHERE a.restock_request_id IS NOT NULL
  AND NOT (a.production_order_id <=> r.production_order_id)
  AND EXISTS (
      SELECT 1 FROM applied_production_orders b
      WHERE b.restock_request_id = a.restock_request_id
        AND b.production_order_id <> a.production_order_id
        AND (b.production_order_id <=> r.production_order_id
             OR (b.applied_at, b.production_order_id) < (a.applied_at, a.production_order_id)));

UPDATE applied_production_orders SET restock_request_id = NULL
WHERE production_order_id IN (SELECT production_order_id FROM surplus_arrivals WHERE settlement = 'kept');

ALTER TABLE applied_production_orders ADD UNIQUE KEY applied_one_per_request (restock_request_id);
