"""State-dict checks: a checkpoint must hold exactly the keys and shapes of the reference module built from
its own config. Every problem is reported with the key and both shapes, all at once."""
from .errors import ConversionError


def expected_shapes(module):
    return {name: tuple(t.shape) for name, t in module.state_dict().items()}


def check_state_dict(state_dict, expected, source, ignore_prefixes=()):
    """Raises ConversionError listing every missing key, unexpected key and wrong shape."""
    problems = []
    for key, shape in expected.items():
        if key not in state_dict:
            problems.append(f"missing key {key} (expected shape {list(shape)})")
        elif tuple(state_dict[key].shape) != tuple(shape):
            problems.append(f"key {key} has shape {list(state_dict[key].shape)}, expected {list(shape)}")
    for key in state_dict:
        if key not in expected and not key.startswith(tuple(ignore_prefixes)):
            problems.append(f"unexpected key {key} (shape {list(state_dict[key].shape)})")
    if problems:
        raise ConversionError(f"{source}: " + "; ".join(problems))


def load_checked(module, state_dict, source, ignore_prefixes=()):
    """Checks, then loads `state_dict` into `module` (float32) and returns it in eval mode."""
    check_state_dict(state_dict, expected_shapes(module), source, ignore_prefixes)
    wanted = {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()
              if not k.startswith(tuple(ignore_prefixes))}
    module.load_state_dict(wanted, strict=True)
    return module.float().eval()
