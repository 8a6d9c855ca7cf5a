"""Evidence capture: the safe fetcher (network policy + HTTP client) and, later, the capture
pipeline built on it."""
