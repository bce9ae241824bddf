"""The store's SQL, one module per table family; `bot.store.Store` puts them behind one API."""
