"""Helpers shared by the test suites: test assets and real server processes on loopback."""
