"""Reading the small text files of a checkpoint folder, with errors that name the file."""
import json

from .errors import ConversionError


def read_json(path, what):
    """The parsed JSON of `path`; ConversionError naming it (as `what`) when it is not JSON."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except ValueError as e:
        raise ConversionError(f"{path}: {what} is not valid JSON ({e})") from e
