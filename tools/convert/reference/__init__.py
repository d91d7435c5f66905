"""Torch reference modules written from TAR_SPEC, loading the official state-dict key names."""
