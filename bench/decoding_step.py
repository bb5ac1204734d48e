"""What a decoding step spends beside the model, four ways side by side.

The same static batch (JOBS jobs, one variant each, TOKENS tokens each, greedy unless
`--sampled`) runs through the engine REPEATS times each way, the ways alternating, so all
see the same machine, after a warm-up run each way. Each way adds one change to the one
before it:

- before: every step copies each layer's whole cache (transformers' DynamicLayer
  concatenates); the CPU's row-by-row attention repeats grouped KV heads into full ones
  first (a second copy, the heads times their groups); and each row's whole text is
  decoded again for every token;
- roomy: each step writes into spare positions of the cache (workers/generation/kv_cache.py);
- roomy+gqa: attention reads grouped heads in place (`enable_gqa`);
- engine: only each row's newest tokens are decoded (`engine._decoded`), as the engine does.

The model:

- `--model qwen2` (default): a Qwen2 shape with grouped KV heads (8 layers, width 512,
  8 query and 2 KV heads, 2,048 positions; 27M parameters) with random weights, on the
  built-in model's tokenizer, saved to a temporary folder: what a served model's cache
  costs at a length the built-in model never reaches (its context is 128 positions);
- `--model builtin`: the built-in model under AIGC_MODELS_DIR (no grouped heads; its rows
  slide past 128 positions, so its cache stays small);
- `--model PATH`: any Hugging Face folder.

`ratio` is the engine's tokens/s over before's (medians); `same_text` counts the jobs whose
texts are the same all four ways (they must all be).

    .venv/bin/python bench/decoding_step.py [--model qwen2] [--jobs 16] [--tokens 512]
                                            [--repeats 3] [--device auto] [--sampled]
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
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch
from torch.nn.functional import scaled_dot_product_attention
from transformers.integrations.sdpa_attention import repeat_kv

from bench.generation_batching import jobs
from bench.stats import loadavg
from tests.tiny_plan import random_qwen2
from workers.generation import engine, kv_cache, rowwise
from workers.generation.engine import BatchItem, generate_batch, load_model


def heads_repeated(query: Any, key: Any, value: Any, *, enable_gqa: bool = False,
                   **kwargs: Any) -> Any:
    """Attention as the engine computed it before it read grouped heads in place."""
    if enable_gqa:
        groups = query.shape[1] // key.shape[1]
        key, value = repeat_kv(key, groups), repeat_kv(value, groups)
    return scaled_dot_product_attention(query, key, value, **kwargs)


def whole_text(row: Any, tokenizer: Any) -> str | None:
    """A row's text as the engine decoded it before: all of it, at every token."""
    text = tokenizer.decode(row.written, skip_special_tokens=True)
    return None if text.endswith("\ufffd") and not row.done else str(text)


# (module, name, stand-in) patched for each way; the engine as it is needs none
CONCATENATING = (kv_cache, "give_room", lambda cache: None)
REPEATED = (rowwise, "scaled_dot_product_attention", heads_repeated)
WHOLE_TEXT = (engine, "_decoded", whole_text)
WAYS: dict[str, list[tuple[Any, str, Any]]] = {
    "before": [CONCATENATING, REPEATED, WHOLE_TEXT],
    "roomy": [REPEATED, WHOLE_TEXT],
    "roomy+gqa": [WHOLE_TEXT],
    "engine": [],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="qwen2")
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sampled", action="store_true")
    args = parser.parse_args()
    models_dir = Path(os.environ.get("AIGC_MODELS_DIR", Path(__file__).parent.parent / "models"))
    model = args.model
    if args.model == "qwen2":
        model = str(random_qwen2(
            Path(tempfile.mkdtemp(prefix="aigc-bench-qwen2-")), models_dir / "builtin",
            vocab_size=4096, hidden_size=512, intermediate_size=1408, num_hidden_layers=8,
            num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=2048))
    requests = [replace(r, model=model, temperature=0.8 if args.sampled else 0.0)
                for r in jobs(args.jobs, args.tokens, args.device)]
    loaded = load_model(model, args.device, models_dir)

    def run() -> tuple[float, list[str]]:
        started = time.perf_counter()
        texts = generate_batch([BatchItem(r) for r in requests], models_dir=models_dir)
        return time.perf_counter() - started, [t[0].text for t in texts]

    seconds: dict[str, list[float]] = {way: [] for way in WAYS}
    texts: dict[str, list[str]] = {}
    # The first round warms every way up at full length: the first long run's growing
    # allocations page memory in (seen doubling a concatenating run's time).
    for repeat in range(args.repeats + 1):
        for way, patches in WAYS.items():
            with ExitStack() as patched:
                for module, name, stand_in in patches:
                    patched.enter_context(mock.patch.object(module, name, stand_in))
                took, texts[way] = run()
            if repeat:
                seconds[way].append(took)
    tokens = args.jobs * args.tokens
    tok_s = {way: tokens / statistics.median(runs) for way, runs in seconds.items()}
    same = sum(len(set(texts_of_job)) == 1
               for texts_of_job in zip(*texts.values(), strict=True))
    figures = {"model": args.model, "jobs": args.jobs, "tokens_per_job": args.tokens,
               "repeats": args.repeats, "sampled": args.sampled, "device": str(loaded.device),
               "torch_threads": torch.get_num_threads(), "model_revision": loaded.revision,
               **{f"tok_s_{way}": round(tok_s[way], 1) for way in WAYS},
               "ratio": round(tok_s["engine"] / tok_s["before"], 3),
               "same_text": f"{same}/{args.jobs}", "loadavg": loadavg()}
    print(f"{'way':<12}{'median s':>10}{'tokens/s':>12}   runs (s)")
    for way, runs in seconds.items():
        print(f"{way:<12}{statistics.median(runs):>10.2f}{tok_s[way]:>12.1f}   "
              + " ".join(f"{s:.2f}" for s in runs))
    print(f"same text all ways: {figures['same_text']}")
    print("load average {} {} {} on {} cores".format(*figures["loadavg"], os.cpu_count()))
    print(json.dumps(figures))
    if args.model == "qwen2":
        shutil.rmtree(model)


if __name__ == "__main__":
    main()
