"""Benchmarks: scripts that print figures and ratios; never part of the test run."""
