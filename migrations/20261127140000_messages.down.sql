DROP TABLE IF EXISTS account_chats;
--bun:split
DROP TABLE IF EXISTS messages;
--bun:split
DROP TABLE IF EXISTS message_batches;
