"""Golden files: fixed inputs and the torch reference's outputs, stored as safetensors whose metadata says
`format: tar-goldens` and a format version, so a reader can refuse a file it does not understand."""
from .safetensors_io import load_file, save_file
from .errors import ConversionError

GOLDEN_FORMAT = "tar-goldens"
GOLDEN_VERSION = 1


def save_goldens(path, tensors, component):
    save_file(tensors, path, {"format": GOLDEN_FORMAT, "version": GOLDEN_VERSION, "component": component})


def load_goldens(path):
    tensors, metadata = load_file(path)
    if metadata.get("format") != GOLDEN_FORMAT or metadata.get("version") != str(GOLDEN_VERSION):
        raise ConversionError(f"{path}: not a version-{GOLDEN_VERSION} golden file (metadata {metadata}); "
                              "regenerate with npm run make-tiny")
    return tensors
