"""`make bench` (run.py): set-up in base, one module a scenario family (listed in scenarios)."""
