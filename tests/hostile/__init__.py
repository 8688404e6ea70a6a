"""Hostile and broken inputs: each case asserts the exit code, the one-line message and the files on disk."""
