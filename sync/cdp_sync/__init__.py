"""cdp-sync: warehouse-native reverse ETL for the open CDP (see docs/sync.md)."""

__version__ = "0.1.0"
