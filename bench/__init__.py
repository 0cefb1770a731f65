"""`make bench`: whole-process timings (run.py), split into timing, scenarios and report."""
