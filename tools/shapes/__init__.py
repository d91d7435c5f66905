"""Tar-Shapes: a small Tar trained from scratch on a synthetic world of coloured shapes (issue 7)."""
