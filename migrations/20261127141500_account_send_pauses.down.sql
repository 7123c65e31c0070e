DROP TABLE IF EXISTS account_send_pauses;
DROP TABLE IF EXISTS account_send_pause_history;
