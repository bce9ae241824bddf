"""The news desk bot: ingest news articles, answer questions about them."""

__version__ = "0.1.0"
