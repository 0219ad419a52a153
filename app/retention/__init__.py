"""Data protection by default: how long records are kept, purging them, the erasure ledger."""
