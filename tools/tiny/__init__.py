"""Tiny random checkpoints in the official formats and key names, and their golden outputs."""
