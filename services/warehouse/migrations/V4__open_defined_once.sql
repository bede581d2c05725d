-- "Open" has one definition: a restock request is open until it is fulfilled. Both
-- `open_sku` (whose unique key allows one open request per sku) and `status` are now
-- computed from `fulfilled_at`, so they can never disagree with it or with each other.
ALTER TABLE restock_requests DROP INDEX restock_one_open_per_sku;
ALTER TABLE restock_requests DROP COLUMN open_sku, DROP COLUMN status;
ALTER TABLE restock_requests
    ADD COLUMN status VARCHAR(16) AS (CASE WHEN fulfilled_at IS NULL THEN 'requested' ELSE 'fulfilled' END) VIRTUAL,
    ADD COLUMN open_sku VARCHAR(32) AS (CASE WHEN fulfilled_at IS NULL THEN sku END) STORED,
    ADD UNIQUE KEY restock_one_open_per_sku (open_sku);
