"""Issue 13: sessions, socket authentication, login throttling, replay bounds."""
