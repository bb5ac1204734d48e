"""Decoding with a KV cache that has room to grow, against transformers' concatenating one.

The same static batch (JOBS jobs, one variant each, TOKENS tokens each, greedy unless
`--sampled`) runs through the engine REPEATS times each way, the two ways alternating, so
both see the same machine, after a warm-up run each way. The model:

- `--model qwen2` (default): a Qwen2 shape with grouped KV heads (8 layers, width 512,
  8 query and 2 KV heads, 2,048 positions; 27M parameters) with random weights, on the
  built-in model's tokenizer, saved to a temporary folder: what a served model's cache
  costs at a length the built-in model never reaches (its context is 128 positions);
- `--model builtin`: the built-in model under AIGC_MODELS_DIR;
- `--model PATH`: any Hugging Face folder.

- concatenating: every step copies each layer's whole cache (transformers' DynamicLayer);
- roomy: each step writes into spare positions (workers/generation/kv_cache.py).

`ratio` is roomy tokens/s over concatenating tokens/s (medians); `same_text` counts the
jobs whose texts are the same both ways (the engine's batch invariance: they must all be).

    .venv/bin/python bench/kv_cache.py [--model qwen2] [--jobs 16] [--tokens 512]
                                       [--repeats 2] [--device auto] [--sampled]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generation_batching import jobs
from bench.stats import loadavg
from workers.generation import kv_cache
from workers.generation.engine import BatchItem, generate_batch, load_model


def random_qwen2(tokenizer_dir: Path) -> Path:
    """A Qwen2 folder with random weights on the tokenizer in `tokenizer_dir`."""
    import torch
    from transformers import AutoModelForCausalLM, Qwen2Config

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=4096, hidden_size=512, intermediate_size=1408,
                         num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
                         max_position_embeddings=2048)
    folder = Path(tempfile.mkdtemp(prefix="aigc-bench-qwen2-"))
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tokenizer_dir / name, folder / name)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2")
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sampled", action="store_true")
    args = parser.parse_args()
    models_dir = Path(os.environ.get("AIGC_MODELS_DIR", Path(__file__).parent.parent / "models"))
    model = str(random_qwen2(models_dir / "builtin")) if args.model == "qwen2" else args.model
    requests = [replace(r, model=model, temperature=0.8 if args.sampled else 0.0)
                for r in jobs(args.jobs, args.tokens, args.device)]
    loaded = load_model(model, args.device, models_dir)

    def run() -> tuple[float, list[str]]:
        started = time.perf_counter()
        texts = generate_batch([BatchItem(r) for r in requests], models_dir=models_dir)
        return time.perf_counter() - started, [t[0].text for t in texts]

    ways = {"concatenating": lambda: mock.patch.object(kv_cache, "give_room", lambda cache: None),
            "roomy": lambda: mock.patch.object(kv_cache, "give_room", kv_cache.give_room)}
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    texts: dict[str, list[str]] = {}
    # The first round warms both ways up at full length: the first long run's growing
    # allocations page memory in (seen doubling a concatenating run's time).
    for repeat in range(args.repeats + 1):
        for way, patched in ways.items():
            with patched():
                took, texts[way] = run()
            if repeat:
                seconds[way].append(took)
    tokens = args.jobs * args.tokens
    tok_s = {way: tokens / statistics.median(s) for way, s in seconds.items()}
    same = sum(a == b for a, b in zip(texts["concatenating"], texts["roomy"], strict=True))
    import torch

    figures = {"model": args.model, "jobs": args.jobs, "tokens_per_job": args.tokens,
               "repeats": args.repeats,
               "sampled": args.sampled, "device": str(loaded.device),
               "torch_threads": torch.get_num_threads(), "model_revision": loaded.revision,
               "tok_s_concatenating": round(tok_s["concatenating"], 1),
               "tok_s_roomy": round(tok_s["roomy"], 1),
               "ratio": round(tok_s["roomy"] / tok_s["concatenating"], 3),
               "same_text": f"{same}/{args.jobs}", "loadavg": loadavg()}
    print(f"{'cache':<15}{'median s':>10}{'tokens/s':>12}   runs (s)")
    for way, runs in seconds.items():
        print(f"{way:<15}{statistics.median(runs):>10.2f}{tok_s[way]:>12.1f}   "
              + " ".join(f"{s:.2f}" for s in runs))
    print(f"same text both ways: {figures['same_text']}")
    print("load average {} {} {} on {} cores".format(*figures["loadavg"], os.cpu_count()))
    print(json.dumps(figures))
    if args.model == "qwen2":
        shutil.rmtree(model)


if __name__ == "__main__":
    main()
