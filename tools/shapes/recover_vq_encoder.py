"""The VQ's encoding half trained anew against the shipped decoder, so that the training images have VQ codes
again (the AR de-tokenizer's targets) after tools.shapes.recover: the package holds only what the converter exports
(the codebook, post_quant_conv and the decoder), not the encoder or quant_conv.

The recovered checkpoint's codebook, post_quant_conv and decoder stay frozen; the encoder and quant_conv start
from train_vq's identity init and learn train_vq's reconstruction loss through the frozen decoder (straight-through,
with the commitment term; no codebook term, no code restarts). Because the codes' meaning is the decoder's, which
does not change, codes from this encoder are codes the shipped de-tokenizer has learnt to draw.

Writes build/shapes/vq/: vq_shapes.pt (official format, the new encoder in it), codes_{train,test}.npy,
recon.png, done.json (test PSNR, codebook use, the evaluator on the reconstructions of the test images).

    /usr/bin/python3 -m tools.shapes.recover_vq_encoder [--steps N]"""
import argparse
import json
import os
import time

import numpy as np
import torch

from tools.convert.vq import build_checked
from tools.shapes import common, data
from tools.shapes.train_ardtok import scores
from tools.shapes.train_vq import (CHECKPOINT, RECON_COUNT, SETTINGS, STATE, build_model, decode_all, encode_all,
                                   psnr, save_checkpoint, save_recon_png, train, usage_figures)

STEPS = 3000
LEARNED = ("encoder.", "quant_conv.")


def schedule(steps):
    """train_vq's settings for an encoder alone: two cosine cycles (the second at a quarter of the first's peak)
    and no code restarts (the codebook is the decoder's)."""
    first = steps // 2
    return dict(SETTINGS, cycles=[[first, 2e-3], [steps - first, 5e-4]], restart_until=0.0)


def frozen_decoder_model(checkpoint):
    """train_vq's VQModel with the checkpoint's decoding half, frozen, and a freshly initialised encoder."""
    model = build_model(SETTINGS["seed"])
    fresh = model.state_dict()
    shipped = torch.load(checkpoint, map_location="cpu")["model"]
    model.load_state_dict({k: (fresh[k] if k.startswith(LEARNED) else shipped[k]) for k in fresh})
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(name.startswith(LEARNED))
    return model


def run(steps):
    torch.set_num_threads(int(os.environ.get("SHAPES_THREADS", "1")))
    out = data.stage_dir("vq")
    done_path = os.path.join(out, "done.json")
    if os.path.exists(done_path):
        print(f"{done_path} exists: the vq stage is done")
        return
    checkpoint = os.path.join(out, CHECKPOINT)
    train_images, test_images = data.images("train"), data.images("test")
    model = frozen_decoder_model(checkpoint).to(common.device())
    started = time.time()
    log = train(model, train_images, schedule(steps), os.path.join(out, STATE))
    codes = {"train": encode_all(model, train_images), "test": encode_all(model, test_images)}
    for split, c in codes.items():
        np.save(os.path.join(out, f"codes_{split}.npy"), c)
    save_checkpoint(model, checkpoint)
    reference, arch = build_checked(checkpoint)
    recon_test = decode_all(reference.to(common.device()), codes["test"])
    save_recon_png(test_images[:RECON_COUNT], recon_test[:RECON_COUNT], os.path.join(out, "recon.png"))
    figures = {"psnr_test_db": psnr(recon_test, test_images),
               "codebook_train": usage_figures(codes["train"]), "codebook_test": usage_figures(codes["test"]),
               "evaluator_on_test_reconstructions": scores(data.scene_list("test"), recon_test),
               "final_loss_last50": float(np.mean(log["loss"][-50:])), "minutes": (time.time() - started) / 60}
    print(json.dumps(figures, indent=1))
    common.mark_done(out, {"arch": arch, "recovered_encoder": True, "settings": schedule(steps), "figures": figures})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=STEPS)
    run(parser.parse_args(argv).steps)


if __name__ == "__main__":
    main()
