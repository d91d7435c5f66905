"""tools.convert: official Tar checkpoints → browser model packages (see docs/model-format.md)."""
