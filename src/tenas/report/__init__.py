"""Results as data: atomic JSON files, and plots made from that data."""
