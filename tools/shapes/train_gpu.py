"""The Tar-Shapes stages retrained on one GPU with wall-clock budgets: from the teacher or TA-Tok on, or all of them.

With --from-scratch (and --tatok-seconds), the whole recipe from nothing but the teacher, which is either done
already under the work folder (e.g. the shipped one, tools/shapes/shipped_teacher) or, with --teacher-seconds,
trained first (it needs --tatok-seconds too: TA-Tok starts from the teacher and learns to reconstruct its
features): the text LM and the VQ (its schedule shortened to fit --vq-seconds) start in the background beside it;
TA-Tok waits for the text LM, the de-tokenizer for the VQ. With --tatok-seconds, the whole TA-Tok
stage (its joint phase for that many seconds, then the tokens of every image and the decoder phase for
--decoder-seconds), then the LLM beside the AR de-tokenizer. Without it, TA-Tok's joint phase and tokens stay as
they are (trained on CPU by tools.shapes.train), and the LLM, which needs only the tokens, trains beside the
decoder phase followed by the de-tokenizer (which reads the refined decoder's features). Each stage runs in its
own process with SHAPES_DEVICE=cuda and trains for as many steps as fit in its budget (GPU batch sizes: the
stages' GPU_* constants; the cap on steps: common.BUDGET_STEP_CAP; the steps taken go into each done.json).
Without --from-scratch the text LM and VQ (and, either way, the teacher without --teacher-seconds) must be done
already; their outputs stay as they are. --device cpu runs the same budgeted stages on CPU at the CPU batch
sizes (a check that the chain runs, not a model). Not here: packaging (tools.shapes.package) or the device call
around it all (tools.shapes.device_call).

    python3 -m tools.shapes.train_gpu [--from-scratch --vq-seconds 240] [--teacher-seconds 120 --tatok-seconds 80]
                                      [--llm-seconds 450] [--decoder-seconds 90] [--ardtok-seconds 330]"""
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
    parser.add_argument("--from-scratch", action="store_true",
                        help="the text LM and VQ too (needs --tatok-seconds)")
    parser.add_argument("--vq-seconds", type=float, default=240, help="with --from-scratch")
    parser.add_argument("--teacher-seconds", type=float, help="retrain the teacher first (needs --tatok-seconds)")
    parser.add_argument("--tatok-seconds", type=float, help="retrain the whole TA-Tok stage first")
    parser.add_argument("--llm-seconds", type=float, default=450)
    parser.add_argument("--decoder-seconds", type=float, default=90)
    parser.add_argument("--ardtok-seconds", type=float, default=330)
    parser.add_argument("--threads", type=int, default=4, help="CPU threads per stage process")
    parser.add_argument("--device", default="cuda", help="cpu: the same budgeted run on CPU (a short check)")
    args = parser.parse_args()
    if args.teacher_seconds and not args.tatok_seconds:
        parser.error("--teacher-seconds needs --tatok-seconds: TA-Tok must follow a new teacher")
    if args.from_scratch and not args.tatok_seconds:
        parser.error("--from-scratch needs --tatok-seconds: TA-Tok is made of the new text LM's embeddings")
    required = (() if args.from_scratch else ("text_lm", "vq")) + (() if args.teacher_seconds else ("teacher",)) + \
        (() if args.tatok_seconds else ("tatok",))
    for stage in required:
        if not os.path.exists(os.path.join(data.WORK, stage, "done.json")):
            raise SystemExit(f"stage {stage} is not done under {data.WORK}: run tools.shapes.train first")
    for split in data.SPLITS:
        data.images(split)   # rendered once here, not by several stage processes at the same time
    clear("llm", ("done.json", "phase_a.pt", "phase_b.pt"))
    clear("ardtok", ("done.json", "state.pt"))
    env = dict(os.environ, SHAPES_DEVICE=args.device, SHAPES_THREADS=str(args.threads),
               SHAPES_LLM_SECONDS=str(args.llm_seconds), SHAPES_DECODER_SECONDS=str(args.decoder_seconds),
               SHAPES_ARDTOK_SECONDS=str(args.ardtok_seconds), SHAPES_VQ_SECONDS=str(args.vq_seconds))
    logs = data.stage_dir("logs")
    begin = time.time()
    beside = {}                 # stages running in the background: stage → (process, log file)
    if args.from_scratch:
        clear("text_lm", ("done.json", "text_lm.pt"))
        clear("vq", ("done.json", "vq_shapes.pt", "train_state.pt"))
        for stage, module_args in (("text_lm", ["tools.shapes.train_llm", "text_lm"]),
                                   ("vq", ["tools.shapes.train_vq"])):
            log = open(os.path.join(logs, f"gpu_{stage}.log"), "w")
            beside[stage] = (launch(module_args, env, log), log)

    def wait_beside(stage):
        """Waits for a background stage (if it runs); → its exit code, 0 when none runs."""
        if stage not in beside:
            return 0
        process, log = beside.pop(stage)
        code = finished(stage, process, begin)
        log.close()
        return code

    first = []
    if args.teacher_seconds:
        clear("teacher", ("done.json", "teacher.pt"))
        first.append(("teacher", "tools.shapes.train_teacher",
                      dict(env, SHAPES_TEACHER_SECONDS=str(args.teacher_seconds))))
    if args.tatok_seconds:
        clear("tatok", ("done.json", "joint.pt", "joint.json"))
        first.append(("tatok", "tools.shapes.train_tatok", dict(env, SHAPES_TATOK_SECONDS=str(args.tatok_seconds))))
    failed = []
    for stage, module, stage_env in first:
        if stage == "tatok" and wait_beside("text_lm"):
            failed.append("text_lm")                        # TA-Tok's codebook is made of the text LM's embeddings
            break
        with open(os.path.join(logs, f"gpu_{stage}.log"), "w") as log:
            if finished(module, launch([module], stage_env, log), begin):
                failed.append(module)
                break
    if not failed:
        with open(os.path.join(logs, "gpu_llm.log"), "w") as llm_log, \
                open(os.path.join(logs, "gpu_decoder_ardtok.log"), "w") as chain_log:
            llm = launch(["tools.shapes.train_llm", "llm"], env, llm_log)
            chain = ([] if args.tatok_seconds else [["tools.shapes.train_tatok", "decoder"]]) + \
                [["tools.shapes.train_ardtok"]]
            for module_args in chain:
                if module_args[0] == "tools.shapes.train_ardtok" and wait_beside("vq"):
                    failed.append("vq")                     # the de-tokenizer learns the VQ's codes
                    break
                if finished(module_args[0], launch(module_args, env, chain_log), begin):
                    failed.append(module_args[0])
                    break
            if finished("tools.shapes.train_llm", llm, begin):
                failed.append("tools.shapes.train_llm")
    if failed:
        for process, _ in beside.values():
            process.terminate()                             # the run has failed: no use waiting for them
    for stage in list(beside):
        if wait_beside(stage) and not failed:
            failed.append(stage)
    if failed:
        print(f"failed: {', '.join(failed)} (logs in {logs})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
