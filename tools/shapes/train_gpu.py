"""The Tar-Shapes stages from the teacher or TA-Tok on, retrained on one GPU with wall-clock budgets.

With --teacher-seconds, the teacher first (it needs --tatok-seconds too: TA-Tok starts from the teacher and learns
to reconstruct its features). With --tatok-seconds, the whole TA-Tok stage (its joint phase for that many
seconds, then the tokens of every image and the decoder phase for --decoder-seconds), then the LLM beside the AR
de-tokenizer. Without it, TA-Tok's joint phase and tokens stay as they are (trained on CPU by tools.shapes.train),
and the LLM, which needs only the tokens, trains beside the decoder phase followed by the de-tokenizer (which
reads the refined decoder's features). Each stage runs in its own process with SHAPES_DEVICE=cuda and trains for
as many steps as fit in its budget (GPU batch sizes: the stages' GPU_* constants; the cap on steps:
common.GPU_STEP_CAP; the steps taken go into each done.json). The text LM and VQ (and the teacher, without
--teacher-seconds) must be done already; their outputs stay as they are. Not here: packaging
(tools.shapes.package).

    python3 -m tools.shapes.train_gpu [--teacher-seconds 120 --tatok-seconds 80] [--llm-seconds 450]
                                      [--decoder-seconds 90] [--ardtok-seconds 330]"""
import argparse
import os
import subprocess
import sys
import time

from tools.shapes import data


def launch(module_args, env, log):
    return subprocess.Popen([sys.executable, "-m", *module_args], env=env, stdout=log, stderr=subprocess.STDOUT)


def finished(module, process, begin):
    """Waits for a stage's process and prints its exit status with the seconds since `begin`; → exit code."""
    code = process.wait()
    print(f"{module}: exit {code} at {time.time() - begin:.0f} s", flush=True)
    return code


def clear(stage, names):
    for name in names:
        path = os.path.join(data.WORK, stage, name)
        if os.path.exists(path):
            os.remove(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher-seconds", type=float, help="retrain the teacher first (needs --tatok-seconds)")
    parser.add_argument("--tatok-seconds", type=float, help="retrain the whole TA-Tok stage first")
    parser.add_argument("--llm-seconds", type=float, default=450)
    parser.add_argument("--decoder-seconds", type=float, default=90)
    parser.add_argument("--ardtok-seconds", type=float, default=330)
    parser.add_argument("--threads", type=int, default=4, help="CPU threads per stage process")
    args = parser.parse_args()
    if args.teacher_seconds and not args.tatok_seconds:
        parser.error("--teacher-seconds needs --tatok-seconds: TA-Tok must follow a new teacher")
    required = ("text_lm", "vq") + (() if args.teacher_seconds else ("teacher",)) + \
        (() if args.tatok_seconds else ("tatok",))
    for stage in required:
        if not os.path.exists(os.path.join(data.WORK, stage, "done.json")):
            raise SystemExit(f"stage {stage} is not done under {data.WORK}: run tools.shapes.train first")
    for split in data.SPLITS:
        data.images(split)   # rendered once here, not by two stage processes at the same time
    clear("llm", ("done.json", "phase_a.pt", "phase_b.pt"))
    clear("ardtok", ("done.json", "state.pt"))
    env = dict(os.environ, SHAPES_DEVICE="cuda", SHAPES_THREADS=str(args.threads),
               SHAPES_LLM_SECONDS=str(args.llm_seconds), SHAPES_DECODER_SECONDS=str(args.decoder_seconds),
               SHAPES_ARDTOK_SECONDS=str(args.ardtok_seconds))
    logs = data.stage_dir("logs")
    begin = time.time()
    first = []
    if args.teacher_seconds:
        clear("teacher", ("done.json", "teacher.pt"))
        first.append(("teacher", "tools.shapes.train_teacher",
                      dict(env, SHAPES_TEACHER_SECONDS=str(args.teacher_seconds))))
    if args.tatok_seconds:
        clear("tatok", ("done.json", "joint.pt", "joint.json"))
        first.append(("tatok", "tools.shapes.train_tatok", dict(env, SHAPES_TATOK_SECONDS=str(args.tatok_seconds))))
    for stage, module, stage_env in first:
        with open(os.path.join(logs, f"gpu_{stage}.log"), "w") as log:
            if finished(module, launch([module], stage_env, log), begin):
                print(f"failed: {module} (logs in {logs})", file=sys.stderr)
                return 1
    with open(os.path.join(logs, "gpu_llm.log"), "w") as llm_log, \
            open(os.path.join(logs, "gpu_decoder_ardtok.log"), "w") as chain_log:
        llm = launch(["tools.shapes.train_llm", "llm"], env, llm_log)
        chain = ([] if args.tatok_seconds else [["tools.shapes.train_tatok", "decoder"]]) + \
            [["tools.shapes.train_ardtok"]]
        failed = []
        for module_args in chain:
            if finished(module_args[0], launch(module_args, env, chain_log), begin):
                failed.append(module_args[0])
                break
        if finished("tools.shapes.train_llm", llm, begin):
            failed.append("tools.shapes.train_llm")
    if failed:
        print(f"failed: {', '.join(failed)} (logs in {logs})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
