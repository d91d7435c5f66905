"""Tar-Shapes trained from nothing but the shipped teacher (or, --train-teacher, from nothing) in one call of the
device tool (a machine with one GPU, lent to some sessions), twice side by side (VARIANTS: the recipe, and the
recipe with three times the training scenes), and the results brought home. Three steps:

    /usr/bin/python3 -m tools.shapes.device_call prepare        here: .gpu/ (git-ignored) with what that
                                                                 machine's Python lacks (easydict, pure Python)
    device run, carry [".gpu"]:  python3 -m tools.shapes.device_call train   there: train_gpu --from-scratch with
                                                                 the budgets below, then the stage outputs
                                                                 packed into $OUT (tar files, each under the
                                                                 tool's 16 MiB a file)
    /usr/bin/python3 -m tools.shapes.device_call unpack DIR [--variant more-scenes-]
                                                                 here: DIR's tar files of one variant into
                                                                 $SHAPES_WORK (default build/shapes/: the stages'
                                                                 checkpoints and done.json files); then
                                                                 tools.shapes.torch_eval, tools.shapes.package and
                                                                 npm run eval:shapes

What travels back is every stage's checkpoint in its official format (the package is converted here, by the same
tools/convert), each stage's done.json and the logs. Not here: the training itself (tools.shapes.train_gpu)."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time

from tools.shapes import data
from tools.shapes import train as train_recipe

CARRIED = os.path.join(data.ROOT, ".gpu")
# Seconds per stage within one call (the tool allows 600 s a call and 900 s of device time a session, the
# machine's start included): the VQ beside the text LM and TA-Tok, then the LLM beside the de-tokenizer. TA-Tok's
# encoder is its teacher's, frozen (train_tatok.ENCODER_LR_SHARE), so the teacher is the shipped one
# (SHIPPED_TEACHER: 6,000 CPU steps, held-out objects' shape named 95.1%) unless --train-teacher asks for a new one
# (TEACHER_SECONDS, first, beside the VQ and text LM). Critical path ~ text LM + TA-Tok (joint + tokens + decoder +
# figures) + the de-tokenizer (+ its sample figures) ≈ 30 + 120 + 315 s with start-ups, ~45 s more for the
# more-scenes run (its rendering and labels). The eighth run's stages had LLM 260 s, de-tokenizer 14,168 steps.
BUDGETS = {"vq": 150, "tatok": 60, "decoder": 40, "llm": 280, "ardtok": 295}
TEACHER_SECONDS = 100
SHIPPED_TEACHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shipped_teacher")
# The runs of one call, each in its own work folder (data.WORK + the name without its dash) and its files back with
# the name as a prefix. At the GPU's batch sizes the LLM sees each of the recipe's 16,000 training scenes ~100
# times and answers 97% on training scenes against 76.5% held out: three times the scenes says whether that gap
# is memorised scenes (48,000 rather than more: rendering them and their grounding labels comes before the stages,
# ~25 s here for the extra scenes, inside the call's deadline).
VARIANTS = {"": {}, "more-scenes-": {"SHAPES_TRAIN_SCENES": "48000"}}
THREADS = 2    # CPU threads per stage process: two runs' stages and loaders share the machine's 16 cores
# After this many seconds the training is stopped and what is done so far is packed (stages resume from their
# done.json in a later call), so that a slow stage never costs the whole call's results.
DEADLINE = 560
# What comes back, one tar file each (stage folder → the files of it kept, done.json always; None: all of its files
# but the training states a stage resumes from).
RETURNED = {
    "vq.tar": {"vq": ["vq_shapes.pt", "recon.png"]},
    # (siglip2-shapes: TA-Tok's teacher folder, train_tatok.TEACHER_FOLDER; not imported: it needs easydict)
    "stages.tar": {"teacher": ["teacher.pt"], "text_lm": ["text_lm.pt"], "tokenizer": None,
                   "tatok": ["ta_tok.pth", "siglip2-shapes/config.json", "codebook.pt", "joint.json"], "llm": None,
                   "ardtok": ["ar_dtok_shapes_64px.pth", "samples.png"]},
    "logs.tar": {"logs": None},
}
TRAINING_STATES = ("phase_a.pt", "phase_b.pt", "state.pt", "train_state.pt", "joint.pt")
FILE_LIMIT = 16 * 1024 * 1024


def prepare():
    """Copies this machine's Debian easydict into .gpu/site and keeps .gpu/ out of git (local exclude)."""
    import easydict
    site = os.path.join(CARRIED, "site")
    shutil.rmtree(site, ignore_errors=True)
    shutil.copytree(os.path.dirname(easydict.__file__), os.path.join(site, "easydict"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    exclude = os.path.join(data.ROOT, ".git", "info", "exclude")
    os.makedirs(os.path.dirname(exclude), exist_ok=True)
    lines = []
    if os.path.exists(exclude):
        with open(exclude) as f:
            lines = f.read().splitlines()
    if "/.gpu/" not in lines:
        with open(exclude, "a") as f:
            f.write("/.gpu/\n")
    print(f"ready: {site}; device run with carry [\".gpu\"]: python3 -m tools.shapes.device_call train")


def variant_work(prefix):
    """The work folder of a variant: data.WORK for the recipe, data.WORK-<name> for another."""
    return data.WORK + ("-" + prefix.rstrip("-") if prefix else "")


def pack(out, work, prefix=""):
    """The stage outputs under `work` into `out` as RETURNED's tar files, named with `prefix`; → {tar name: bytes}."""
    sizes = {}
    for name, stages in RETURNED.items():
        path = os.path.join(out, prefix + name)
        with tarfile.open(path, "w") as tar:
            for stage, files in stages.items():
                folder = os.path.join(work, stage)
                if not os.path.isdir(folder):
                    continue
                kept = [f for f in sorted(os.listdir(folder)) if f not in TRAINING_STATES and not f.endswith(".tmp")] \
                    if files is None else files + ["done.json"]
                for file in kept:
                    if os.path.isfile(os.path.join(folder, file)):
                        tar.add(os.path.join(folder, file), arcname=f"{stage}/{file}")
        sizes[prefix + name] = os.path.getsize(path)
        if sizes[prefix + name] > FILE_LIMIT:
            print(f"warning: {prefix + name} is {sizes[prefix + name]} bytes, over the tool's {FILE_LIMIT} a file",
                  file=sys.stderr)
    return sizes


def run_until(runs, deadline):
    """Starts every (command, env) of `runs` at once, each in its own process group; a run still going `deadline`
    seconds after the start is stopped, its whole group with it. → [(exit code, whether it was stopped)]."""
    begin = time.time()
    processes = [subprocess.Popen(command, env=env, cwd=data.ROOT, start_new_session=True) for command, env in runs]
    results = []
    for process in processes:
        try:
            results.append((process.wait(timeout=max(0.0, deadline - (time.time() - begin))), False))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
            results.append((process.wait(), True))
    return results


STAGE_MODULES = ("tools.shapes.train_llm", "tools.shapes.train_vq", "tools.shapes.train_teacher",
                 "tools.shapes.train_tatok", "tools.shapes.train_ardtok", "tools.shapes.train_gpu")


def preflight(env, device):
    """A few seconds before minutes of training: every stage module imports under `env` (the device's own torch
    and numpy, easydict from .gpu/site) and `device` is there. → None, or what is wrong."""
    check = "; ".join([f"import {m}" for m in STAGE_MODULES] + [
        "import torch", f"torch.empty(1, device={device!r})"])
    result = subprocess.run([sys.executable, "-c", check], env=env, cwd=data.ROOT, capture_output=True, text=True)
    return None if result.returncode == 0 else result.stderr.strip().splitlines()[-1]


def place_shipped_teacher(work):
    """The shipped teacher's checkpoint and done.json into `work`'s teacher stage, as the stage would leave them."""
    folder = os.path.join(work, "teacher")
    os.makedirs(folder, exist_ok=True)
    for name in ("teacher.pt", "done.json"):
        shutil.copyfile(os.path.join(SHIPPED_TEACHER, name), os.path.join(folder, name))


def stage_budgets(scale, train_teacher):
    """{stage: seconds} for train_gpu, each × scale; the teacher's only when it is trained."""
    budgets = dict(BUDGETS, **({"teacher": TEACHER_SECONDS} if train_teacher else {}))
    return {stage: seconds * scale for stage, seconds in budgets.items()}


def train(out, device="cuda", scale=1.0, deadline=DEADLINE, variants=VARIANTS, train_teacher=False):
    """On the device machine: the whole recipe on its GPU (`device`) once per variant, side by side, each budget ×
    `scale`, from the shipped teacher (or, with train_teacher, a new one), stopped after `deadline` seconds, then
    every variant's outputs — what is done by then — packed into `out`; → 0 when every run ended on its own with
    exit 0, else 1. (--device cpu --scale 0.1 here: a check of the whole call, not a model.)"""
    env = dict(os.environ, PYTHONUNBUFFERED="1", TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1",
               PYTHONPATH=os.pathsep.join([data.ROOT, os.path.join(CARRIED, "site")]))
    problem = preflight(env, device)
    if problem:
        print(f"not started: {problem} (carried .gpu/site? run `device_call prepare` here first)", file=sys.stderr)
        return 2
    budgets = stage_budgets(scale, train_teacher)
    if not train_teacher:
        for prefix in variants:
            place_shipped_teacher(variant_work(prefix))
    command = [sys.executable, "-m", "tools.shapes.train_gpu", "--from-scratch", f"--device={device}",
               f"--threads={THREADS}"] + [f"--{stage}-seconds={seconds}" for stage, seconds in budgets.items()]
    runs = [(command, dict(env, SHAPES_WORK=variant_work(prefix), **settings)) for prefix, settings in variants.items()]
    begin = time.time()
    results = run_until(runs, deadline)
    summary = {"seconds": round(time.time() - begin), "budgets": budgets, "variants": {}}
    for (prefix, settings), (code, stopped) in zip(variants.items(), results):
        work = variant_work(prefix)
        done = {}
        for stage, _ in train_recipe.STAGES:
            marker = os.path.join(work, stage, "done.json")
            if os.path.exists(marker):
                with open(marker) as f:
                    done[stage] = json.load(f)
        summary["variants"][prefix or "recipe"] = {"settings": settings, "exit": code, "stopped_at_deadline": stopped,
                                                   "returned_bytes": pack(out, work, prefix), "done": done}
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps({name: {k: v for k, v in run.items() if k != "done"}
                      for name, run in summary["variants"].items()}), flush=True)
    return 0 if all(code == 0 and not stopped for code, stopped in results) else 1


def unpack(folder, prefix=""):
    """The tar files of variant `prefix` (RETURNED's names with it) from `folder` into data.WORK, each stage folder
    they hold replaced by what came back; nothing is written unless every tar file is there and holds only files of
    its own stages."""
    archives = {}
    for name, stages in RETURNED.items():
        path = os.path.join(folder, prefix + name)
        if not os.path.exists(path):
            raise SystemExit(f"{path} is missing: the device call did not return it")
        with tarfile.open(path) as tar:
            for member in tar.getmembers():
                parts = member.name.split("/")
                if parts[0] not in stages or not member.isfile() or len(parts) < 2 or ".." in parts or not all(parts):
                    raise SystemExit(f"{path}: unexpected entry {member.name}")
            archives[path] = {member.name.split("/")[0] for member in tar.getmembers()}
    for path, stages in archives.items():
        for stage in stages:
            shutil.rmtree(os.path.join(data.WORK, stage), ignore_errors=True)
        with tarfile.open(path) as tar:
            tar.extractall(data.WORK)
    print(f"unpacked into {data.WORK}: " + ", ".join(sorted(os.listdir(data.WORK))))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    verbs = parser.add_subparsers(dest="verb", required=True)
    verbs.add_parser("prepare")
    training = verbs.add_parser("train")
    training.add_argument("--out", default=os.environ.get("OUT"))
    training.add_argument("--device", default="cuda")
    training.add_argument("--scale", type=float, default=1.0, help="every stage's seconds times this")
    training.add_argument("--deadline", type=float, default=DEADLINE, help="seconds until the training is stopped")
    training.add_argument("--train-teacher", action="store_true",
                          help=f"train a new teacher ({TEACHER_SECONDS} s) instead of using the shipped one")
    training.add_argument("--more-scenes", type=int, default=int(VARIANTS["more-scenes-"]["SHAPES_TRAIN_SCENES"]),
                          help="training scenes of the more-scenes- variant")
    unpacking = verbs.add_parser("unpack")
    unpacking.add_argument("folder")
    unpacking.add_argument("--variant", default="", choices=list(VARIANTS), help="the prefix of its files")
    args = parser.parse_args(argv)
    if args.verb == "prepare":
        return prepare()
    if args.verb == "train":
        if not args.out:
            parser.error("train needs --out or $OUT (the device tool sets it)")
        os.makedirs(args.out, exist_ok=True)
        variants = dict(VARIANTS, **{"more-scenes-": {"SHAPES_TRAIN_SCENES": str(args.more_scenes)}})
        return train(args.out, args.device, args.scale, args.deadline, variants, args.train_teacher)
    return unpack(args.folder, args.variant)


if __name__ == "__main__":
    sys.exit(main())
