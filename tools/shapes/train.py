"""`npm run train:shapes`: the whole Tar-Shapes recipe, stage by stage, on CPU (Debian's torch).

Each stage is its own process and writes its results plus a done.json under build/shapes/<stage>/; a stage
whose done.json exists is skipped, so an interrupted run resumes at the stage it was in (stages also keep
their own periodic checkpoints where they are long). The last stage converts the four official-format
checkpoints with tools/convert, unchanged, into public/models/tar-shapes/.

    /usr/bin/python3 -m tools.shapes.train [--from STAGE] [--threads N]"""
import argparse
import os
import subprocess
import sys
import time

STAGES = (
    ("teacher", ["tools.shapes.train_teacher"]),
    ("text_lm", ["tools.shapes.train_llm", "text_lm"]),
    ("vq", ["tools.shapes.train_vq"]),
    ("tatok", ["tools.shapes.train_tatok"]),
    ("llm", ["tools.shapes.train_llm", "llm"]),
    ("ardtok", ["tools.shapes.train_ardtok"]),
    ("package", ["tools.shapes.package"]),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--from", dest="start", choices=[name for name, _ in STAGES],
                        help="re-run from this stage on (its done.json and later ones are removed)")
    args = parser.parse_args()
    from tools.shapes import data
    names = [name for name, _ in STAGES]
    if args.start:
        for name in names[names.index(args.start):]:
            marker = os.path.join(data.WORK, name, "done.json")
            if os.path.exists(marker):
                os.remove(marker)
    env = dict(os.environ, SHAPES_THREADS=str(args.threads), OPENBLAS_NUM_THREADS="1")
    begin = time.time()
    for name, module in STAGES:
        start = time.time()
        print(f"== {name}", flush=True)
        code = subprocess.call([sys.executable, "-m", *module], env=env)
        if code:
            print(f"stage {name} failed (exit {code}); run again to resume from it", file=sys.stderr)
            return code
        print(f"== {name}: {(time.time() - start) / 60:.1f} min", flush=True)
    print(f"all stages done in {(time.time() - begin) / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
