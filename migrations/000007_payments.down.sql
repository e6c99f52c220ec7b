DROP TABLE payment_notifications;
DROP TABLE payment_refunds;
DROP TABLE payments;
