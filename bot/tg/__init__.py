"""The Telegram adapter: wiring (app), thin handlers, and the one renderer of markup."""
