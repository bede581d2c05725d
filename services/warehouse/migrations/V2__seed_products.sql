-- The original system's product, and a few more for demos.
INSERT INTO products (sku, name, price, stock, initial_stock, reorder_quantity, factory_id, factory_name) VALUES
    ('CP-502101', '부산도너츠',       19900,  3,  3, 10, 'FF-500293', '부산도너츠 공장'),
    ('CP-502102', '제주감귤초콜릿',   12900, 20, 20, 20, 'FF-500294', '제주 과자 공장'),
    ('CP-502103', '안흥찐빵',          8900, 15, 15, 10, 'FF-500295', '횡성 찐빵 공장'),
    ('CP-502104', '경주빵',           15000,  0,  0, 12, 'FF-500296', '경주 제과 공장'),
    ('CP-502105', '천안호두과자',     11000, 30, 30, 25, 'FF-500297', '천안 호두 공장');
