"""1:1 chat (個別チャット): the inbox, a friend's conversation, staff replies (docs/chat.md)."""
