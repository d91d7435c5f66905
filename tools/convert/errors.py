"""Typed errors of the converter. Every message names the file or key at fault."""


class ConversionError(Exception):
    """The input cannot be converted: wrong file, missing or unexpected key, wrong shape, bad config."""
