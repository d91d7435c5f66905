"""Converter tests (python3 -m unittest discover -s tools/tests -t .)."""
