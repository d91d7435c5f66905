"""Command line: official Tar checkpoints → one model package.

    python3 -m tools.convert --tatok ta_tok.pth --llm Tar-1.5B/ --ardtok ar_dtok_lp_256px.pth \
        --vq vq_ds16_t2i.pt --out public/models/tar-1.5b [--storage float16] [--model-id tar-1.5b] \
        [--sampling '{"detokenizer": {"cfgScale": 1.0}}']

Any subset of the components may be given (a package holding only those)."""
import argparse
import importlib
import json
import sys

from .errors import ConversionError
from .package import PackageWriter, check_sampling_overrides, override_sampling

COMPONENTS = ("tatok", "llm", "ardtok", "vq")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python3 -m tools.convert", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tatok", help="ta_tok.pth (TA-Tok: encoder, codebook, decoder)")
    parser.add_argument("--llm", help="the Tar LLM folder (config.json, safetensors, tokenizer files)")
    parser.add_argument("--ardtok", help="ar_dtok_lp_*px.pth (AR de-tokenizer)")
    parser.add_argument("--vq", help="vq_ds16_t2i.pt (LlamaGen VQ-16; the decoder is exported)")
    parser.add_argument("--out", required=True, help="package folder to write")
    parser.add_argument("--storage", choices=["float32", "float16"], default="float32")
    parser.add_argument("--model-id", default="tar")
    parser.add_argument("--sampling", type=json.loads, default={},
                        help="JSON written over the manifest's default sampling (Tar's own settings), group by field")
    args = parser.parse_args(argv)
    chosen = [c for c in COMPONENTS if getattr(args, c)]
    if not chosen:
        parser.error("give at least one of --tatok, --llm, --ardtok, --vq")
    try:
        check_sampling_overrides(args.sampling)
        with PackageWriter(args.out, args.model_id, args.storage) as writer:
            for name in chosen:
                importlib.import_module(f"tools.convert.{name}").convert(writer, getattr(args, name))
            override_sampling(writer.sampling, args.sampling)
    except ConversionError as e:
        print(f"convert: {e}", file=sys.stderr)
        return 2
    print(f"wrote {args.out} ({', '.join(chosen)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
