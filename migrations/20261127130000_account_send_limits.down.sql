DROP TABLE IF EXISTS account_send_limits;
