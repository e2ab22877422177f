-- 004_live_payments: what a live provider hands back when an order is created and cannot be
-- made again later. WeChat Pay's Native order answers a `code_url` (the text of the QR code the
-- payer scans, valid for two hours); it is stored with the order so reading the order shows the
-- same code without asking WeChat again. NULL for Alipay orders (their page URL is signed
-- locally whenever the order is shown) and for orders created in mock mode.
-- (003 is left to the generation schema, which is developed in parallel.)
ALTER TABLE recharge_orders ADD COLUMN code_url VARCHAR(512) NULL AFTER payment_method;
ALTER TABLE membership_orders ADD COLUMN code_url VARCHAR(512) NULL AFTER payment_method;
