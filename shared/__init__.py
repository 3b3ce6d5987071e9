"""Code every kkot service shares: wire contracts, settings, logging, errors, events."""
