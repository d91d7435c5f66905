"""The committed Tar-Shapes package → official checkpoints under build/shapes/ again, so that a session that starts
bare can evaluate the shipped model in torch or train one stage anew on top of the GPU-trained others.

Not a general inverse of tools/convert: it builds a template checkpoint of each component with this model's
architecture (the training stages' own builders) and every parameter random, converts the templates exactly as the
package was converted, and matches each tensor the template package exports to the template parameter it came
from (equal, possibly reshaped or transposed). The committed package's tensor at the same place is then that parameter. The
TA-Tok tables are inverted on their own: SimVQ's E and W are not separable from C = normalize(E·Wᵀ + b), so E := C,
W := I, b := 0 (the same C); out_linear by least squares from decode_table = out_linear(C); the decoder's position
table from the scale-1 rows of decoder_positions. What no exported tensor holds (the VQ encoder, the teacher
layers after hidden_states[-2]) keeps the template's random values; recovered.json in each stage folder lists
those keys. The recovered checkpoints are converted once more and every tensor compared with the package.

    python3 -m tools.shapes.recover [--package public/models/tar-shapes]"""
import argparse
import json
import os
import sys
import tempfile

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from tools.convert.ardtok import read_checkpoint as read_ardtok
from tools.convert.reference.tatok import TATok
from tools.convert.safetensors_io import load_folder
from tools.convert.tatok import read_checkpoint as read_tatok
from tools.convert.vq import build_checked as build_vq, read_state_dict as read_vq
from tools.shapes import data, package, text, train_ardtok, train_llm, train_tatok, train_vq
from tools.tiny.llm import folder_config, write_folder

TOLERANCE = 1e-4   # largest |difference| allowed between a re-converted tensor and the package's
CONSTANT_TOLERANCE = 1e-6
LLM_TOWER_PREFIX = "model.vision_tower."   # the vision-tower tensor every official LLM folder carries (write_folder)
TIED = ("model.embed_tokens.weight", "lm_head.weight")


class RecoveryError(Exception):
    """The package does not match this model's architecture, or a tensor could not be placed."""


def randomise(module, seed):
    """Every parameter N(0, 1) rounded to bf16 (the LLM folder stores bf16), so that each is unique and survives
    every checkpoint format unchanged. Buffers stay as built."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator).to(torch.bfloat16).float())
    return module


# ---- the four components: template writer, state-dict reader, recovered writer --------------------------------
def tatok_template(folder, manifest):
    config = manifest["components"]["tatok"]["config"]
    args = train_tatok.official_args(config["codebookSize"], config["codeDim"])
    tatok = randomise(TATok(train_tatok.architecture(config["codebookSize"], config["codeDim"])), 1)
    return train_tatok.write_checkpoint(folder, tatok, {}, args), args


def llm_template(folder, manifest):
    config = manifest["components"]["llm"]["config"]
    ids, vocab_size, base = text.write_tokenizer(folder)
    if vocab_size != config["vocabSize"]:
        raise RecoveryError(f"the tokenizer written now has {vocab_size} tokens, the package's LLM {config['vocabSize']}")
    model = randomise(train_llm.build_model(vocab_size, config["ropeTheta"]), 2)
    settings = folder_config(ids, vocab_size, hidden=train_llm.HIDDEN, layers=train_llm.LAYERS, heads=train_llm.HEADS,
                             kv_heads=train_llm.KV_HEADS, intermediate=train_llm.INTERMEDIATE, image_tokens=base,
                             max_positions=train_llm.MAX_POSITIONS, rope_theta=config["ropeTheta"])
    write_folder(folder, ids, settings, model.state_dict())
    return folder, (ids, settings)


def vq_template(folder):
    path = os.path.join(folder, train_vq.CHECKPOINT)
    train_vq.save_checkpoint(randomise(train_vq.build_model(0), 3), path)
    return path, None


def ardtok_template(folder, manifest, tatok_path, vq_path):
    config = manifest["components"]["ardtok"]["config"]
    tatok = TATok(train_tatok.architecture(manifest["components"]["tatok"]["config"]["codebookSize"],
                                           manifest["components"]["tatok"]["config"]["codeDim"]))
    args = train_ardtok.model_args(tatok, build_vq(vq_path)[1], torch.zeros(1, config["maxSeqLen"]))
    model = randomise(train_ardtok.new_model(args, tatok.grid), 4)
    path = os.path.join(folder, train_ardtok.CHECKPOINT)
    train_ardtok.write_checkpoint(path, model, args)
    return path, args


def read_state(name, path):
    """The state dict a component's checkpoint holds, as the converter reads it, float32."""
    if name == "tatok":
        sd = read_tatok(path)[1]
    elif name == "ardtok":
        sd = read_ardtok(path)[2]
    elif name == "vq":
        sd = read_vq(path)
    else:
        sd = {k: v for k, v in load_folder(path).items() if not k.startswith(LLM_TOWER_PREFIX)}
    return {k: v.float() for k, v in sd.items() if v.is_floating_point()}


def write_state(name, path, sd, extra):
    """Writes `sd` in the component's official format to `path` (the stage's checkpoint path)."""
    os.makedirs(path if name == "llm" else os.path.dirname(path), exist_ok=True)
    if name == "tatok":
        train_tatok.write_checkpoint(os.path.dirname(path), _Holder(sd), {}, extra)
    elif name == "ardtok":
        train_ardtok.write_checkpoint(path, _Holder(sd), extra)
    elif name == "vq":
        torch.save({"model": sd}, path + ".tmp")
        os.replace(path + ".tmp", path)
    else:
        ids, settings = extra
        text.write_tokenizer(path)
        write_folder(path, ids, settings, sd)


class _Holder:
    """What the stages' checkpoint writers need of a module: its state_dict()."""

    def __init__(self, sd):
        self.sd = sd

    def state_dict(self):
        return self.sd


# ---- matching ----------------------------------------------------------------------------------------------------
def initializers(package_dir, relative):
    model = onnx.load(os.path.join(package_dir, relative))
    return [(i.name, numpy_helper.to_array(i).astype(np.float32)) for i in model.graph.initializer
            if i.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]


def onnx_files(manifest, component):
    return [rel for rel in manifest["components"][component]["files"].values() if rel.endswith(".onnx")]


def place(template_sd, template_dir, package_dir, manifest, component):
    """{key: tensor} for every template parameter that an ONNX initializer of `component` exports."""
    lookup = {}
    for key, value in template_sd.items():
        array = value.numpy()
        lookup.setdefault(array.tobytes(), (key, False))
        if array.ndim == 2:
            lookup.setdefault(np.ascontiguousarray(array.T).tobytes(), (key, True))
    placed, unplaced = {}, []
    for relative in onnx_files(manifest, component):
        template, shipped = initializers(template_dir, relative), initializers(package_dir, relative)
        if [a.shape for _, a in template] != [a.shape for _, a in shipped]:
            raise RecoveryError(f"{relative}: the package's initializers are not those of this architecture")
        for (name, array), (_, value) in zip(template, shipped):
            found = lookup.get(np.ascontiguousarray(array).tobytes())
            if found is None:
                # the same in both: a constant of the graph (or one folded from normalised rows), not a weight
                if not np.allclose(array, value, rtol=0.0, atol=CONSTANT_TOLERANCE):
                    unplaced.append(f"{relative}:{name}")
                continue
            key, transposed = found
            # an exported weight may be reshaped (group-norm scales as [C,1,1]) or transposed (MatMul operands)
            tensor = torch.from_numpy(np.ascontiguousarray(value.T if transposed else value)).reshape(template_sd[key].shape)
            if key in placed and not torch.equal(placed[key], tensor):
                raise RecoveryError(f"{relative}: {key} is exported twice with different values")
            placed[key] = tensor
    if unplaced:
        raise RecoveryError(f"{component}: no template parameter gives {', '.join(unplaced)}")
    return placed


def table(package_dir, manifest, role):
    tatok = manifest["components"]["tatok"]
    array = np.fromfile(os.path.join(package_dir, tatok["files"][role]), dtype=np.float32)
    return torch.from_numpy(array.reshape(tatok["tables"][role]["shape"]))


def tatok_tables(package_dir, manifest):
    """The parameters only TA-Tok's tables hold: SimVQ as E := C, W := I, b := 0; out_linear by least squares;
    the decoder's position table (the scale-1 rows, resized to its own grid = unchanged)."""
    codebook, decode_table = table(package_dir, manifest, "codebook"), table(package_dir, manifest, "decodeTable")
    k, d = codebook.shape
    solution = torch.linalg.lstsq(torch.cat([codebook, torch.ones(k, 1)], 1).double(), decode_table.double()).solution
    grid = manifest["components"]["tatok"]["config"]["gridSize"]
    return {"bottleneck.regularizer.embedding.weight": codebook,
            "bottleneck.regularizer.embedding_proj.weight": torch.eye(d),
            "bottleneck.regularizer.embedding_proj.bias": torch.zeros(d),
            "bottleneck.out_linear.weight": solution[:d].t().float().contiguous(),
            "bottleneck.out_linear.bias": solution[d].float().contiguous(),
            "decoder.vision_model.embeddings.position_embedding.weight":
                table(package_dir, manifest, "decoderPositions")[: grid * grid].clone()}


# ---- comparison --------------------------------------------------------------------------------------------------
def largest_difference(manifest, a_dir, b_dir):
    """{file: max |a − b|} over every ONNX initializer and table of the two packages."""
    out = {}
    for component, entry in manifest["components"].items():
        for role, relative in entry["files"].items():
            if relative.endswith(".onnx"):
                pairs = zip(initializers(a_dir, relative), initializers(b_dir, relative))
                out[relative] = max((float(np.abs(x - y).max()) for (_, x), (_, y) in pairs), default=0.0)
            elif relative.endswith(".bin"):
                x, y = (np.fromfile(os.path.join(d, relative), dtype=np.float32) for d in (a_dir, b_dir))
                out[relative] = float(np.abs(x - y).max())
    return out


def convert_into(out, paths):
    code = package.convert_checkpoints(paths, out)
    if code != 0:
        raise RecoveryError(f"tools/convert failed ({code}) on {paths}")


def recover(package_dir=package.OUT, work=None):
    """Writes the four recovered checkpoints to package.checkpoints() (or under `work`); → {file: max difference}."""
    with open(os.path.join(package_dir, "manifest.json")) as f:
        manifest = json.load(f)
    targets = package.checkpoints() if work is None else \
        {name: os.path.join(work, os.path.relpath(path, data.WORK)) for name, path in package.checkpoints().items()}
    with tempfile.TemporaryDirectory() as scratch:
        folders = {name: os.path.join(scratch, name) for name in targets}
        for folder in folders.values():
            os.makedirs(folder)
        templates = {"tatok": tatok_template(folders["tatok"], manifest),
                     "llm": llm_template(folders["llm"], manifest),
                     "vq": vq_template(folders["vq"])}
        templates["ardtok"] = ardtok_template(folders["ardtok"], manifest, templates["tatok"][0], templates["vq"][0])
        template_package = os.path.join(scratch, "template-package")
        convert_into(template_package, {name: path for name, (path, _) in templates.items()})
        for name, (path, extra) in templates.items():
            template_sd = read_state(name, path)
            placed = place(template_sd, template_package, package_dir, manifest, name)
            if name == "tatok":
                placed.update(tatok_tables(package_dir, manifest))
            if name == "llm" and manifest["components"]["llm"]["config"]["tieWordEmbeddings"]:
                shared = next(placed[k] for k in TIED if k in placed)
                placed.update({k: shared for k in TIED if k in template_sd})
            kept = sorted(k for k in template_sd if k not in placed)
            write_state(name, targets[name], {**template_sd, **placed}, extra)
            stage = targets[name] if name == "llm" else os.path.dirname(targets[name])
            with open(os.path.join(stage, "recovered.json"), "w") as f:
                json.dump({"from": os.path.relpath(package_dir, data.ROOT), "not_in_package": kept}, f, indent=1)
        again = os.path.join(scratch, "recovered-package")
        convert_into(again, targets)
        differences = largest_difference(manifest, again, package_dir)
    worst = max(differences.values())
    if worst > TOLERANCE:
        raise RecoveryError(f"re-converted checkpoints differ from the package by up to {worst}: {differences}")
    return differences


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--package", default=package.OUT)
    args = parser.parse_args(argv)
    try:
        differences = recover(args.package)
    except RecoveryError as e:
        print(f"recover: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"largest_difference": differences, "checkpoints": package.checkpoints()}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
