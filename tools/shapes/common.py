"""Small helpers every Tar-Shapes training stage shares: deterministic set-up, the device and schedule a stage
trains on, the stream of a stage's step inputs, a stage's done-marker, a cosine learning-rate schedule, and atomic
torch saves. Not a training framework."""
import json
import math
import os
import random
import time

import torch


def setup(seed):
    """One thread (two stages may run side by side on our 2 cores), no denormal slow-downs, fixed seeds."""
    torch.set_num_threads(int(os.environ.get("SHAPES_THREADS", "1")))
    torch.set_flush_denormal(True)
    torch.manual_seed(seed)


def device():
    """Where the stages train: SHAPES_DEVICE ("cpu", the default, or e.g. "cuda" on a machine with a GPU)."""
    return torch.device(os.environ.get("SHAPES_DEVICE", "cpu"))


def on_gpu():
    return device().type == "cuda"


BUDGET_STEP_CAP = 20   # a budgeted schedule runs at most this many times the stage's CPU steps


def step_budget(steps, seconds_variable, share=1.0, cap=BUDGET_STEP_CAP):
    """The schedule of a stage's `steps` CPU steps: with the environment variable `seconds_variable` set (by
    tools.shapes.train_gpu; on a GPU, or on CPU for a short run of the whole pipeline), as many steps as fit in
    `share` of its seconds, at most `cap` × steps; otherwise `steps`."""
    seconds = os.environ.get(seconds_variable)
    if not seconds:
        return StepBudget(steps)
    return StepBudget(int(steps * cap), float(seconds) * share)


class StepBudget:
    """A schedule's length fixed by time: after `probe` steps of a run whose `cap` steps would outlast `seconds`,
    the schedule shortens to the steps that fit (the warm-up of common.cosine_lr is longer than the probe, so the
    learning rates before the decision are the same either way). seconds None: always `cap` steps."""

    def __init__(self, cap, seconds=None, probe=30):
        self.total, self.seconds, self.probe = cap, seconds, probe
        self.start = None

    def tick(self, step):
        """Call at the start of every step; returns the schedule's length as it now stands."""
        if self.seconds is None:
            return self.total
        if step == 1:
            self.start = time.time()
        elif step == self.probe + 1:
            per_step = (time.time() - self.start) / self.probe
            self.total = max(self.probe + 1, min(self.total, int(self.seconds / per_step)))
        return self.total


class Steps(torch.utils.data.IterableDataset):
    """Endless inputs of training steps, each `make(rng)`; each loader worker draws from its own
    random.Random(f"{seed}:{worker}"), so inputs built in parallel are distinct and the run repeatable."""

    def __init__(self, make, seed):
        self.make, self.seed = make, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = random.Random(self.seed if info is None else f"{self.seed}:{info.id}")
        while True:
            yield self.make(rng)


def step_stream(make, seed, workers):
    """Iterator of `make(rng)`: built in this process from one random.Random(seed) when `workers` is 0 (on CPU), or
    by that many loader processes (on a GPU, so that building the inputs keeps pace with the steps)."""
    steps = Steps(make, seed)
    if not workers:
        return iter(steps)
    return iter(torch.utils.data.DataLoader(steps, batch_size=None, num_workers=workers, prefetch_factor=8,
                                            collate_fn=lambda inputs: inputs))


def done_path(folder):
    return os.path.join(folder, "done.json")


def refuse_own_folder(flag, source, folder):
    """SystemExit when `source` (given as `flag`) is `folder`, the folder the stage is about to write."""
    if os.path.realpath(source) == os.path.realpath(folder):
        raise SystemExit(f"{flag} {source} is the folder this stage writes")


def is_done(folder):
    return os.path.exists(done_path(folder))


def mark_done(folder, figures):
    with open(done_path(folder), "w") as f:
        json.dump(figures, f, indent=2)


def cosine_lr(step, total, peak, warmup=100):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))


def encoder_share_optimiser(model, encoder_share, weight_decay=1e-4):
    """AdamW over `model`'s learning parameters in two groups: those under "encoder." at encoder_share of the rest's
    rate (a share of 0 leaves them out), the rest at the full rate; set_shared_lr sets both each step."""
    encoder = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("encoder.")]
    rest = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("encoder.")]
    groups = [{"params": rest, "share": 1.0}]
    if encoder_share > 0 and encoder:
        groups.append({"params": encoder, "share": encoder_share})
    return torch.optim.AdamW(groups, lr=0.0, weight_decay=weight_decay)


def set_shared_lr(optimiser, lr):
    """Each group of an encoder_share_optimiser at its share of lr."""
    for group in optimiser.param_groups:
        group["lr"] = group["share"] * lr


def save_atomic(obj, path):
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


class Clock:
    """Prints progress lines with elapsed minutes."""

    def __init__(self, name):
        self.name, self.start = name, time.time()

    def minutes(self):
        return (time.time() - self.start) / 60

    def log(self, message):
        print(f"[{self.name} {self.minutes():5.1f} min] {message}", flush=True)
