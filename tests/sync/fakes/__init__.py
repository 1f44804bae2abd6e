"""Fake vendor APIs for the sync tests: loopback-only HTTP servers that enforce
the documented contract (auth, batch limits, status codes, partial-failure
bodies, rate limits) and inject faults on demand."""
