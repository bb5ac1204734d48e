"""What batch invariance costs a linear layer on the CPU: blocked products against one plain one.

The engine multiplies a CPU model's linear layers in blocks of exactly BLOCK_ROWS rows
(workers.generation.rowwise), so a row's numbers do not depend on the rows beside it. This
times, side by side in one run, `bias + rows @ weight` as one product (torch's
`nn.functional.linear`) and blocked, for layer shapes of the built-in model and of a
0.5B-parameter one, at row counts of a decoding step (the batch's rows) and of a prefill
(rows × prompt tokens). Each figure is the median of --repeats timings, both ways timed in
turn. The last line is JSON: `ratio` per case is blocked over plain (above 1: blocked is
slower), with the load average at the end.

    .venv/bin/python bench/blocked_products.py [--threads 1] [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.stats import loadavg
from workers.generation.rowwise import BLOCK_ROWS, blocked_addmm

# (name, inputs, outputs): the built-in model's widest layer, a 0.5B model's MLP up and down
SHAPES = [("built-in mlp", 128, 512), ("0.5B mlp up", 896, 4864), ("0.5B mlp down", 4864, 896)]
ROWS = [1, 4, 32, 200, 1024]  # decoding 1, 4 and 32 rows; prefilling 200 and 1024 positions


def _ms(call: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    call(*args)
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    cases = []
    print(f"{'layer':<14}{'rows':>6}{'plain ms':>10}{'blocked ms':>12}{'ratio':>8}")
    for name, inputs, outputs in SHAPES:
        weight = torch.randn(outputs, inputs, generator=generator)
        bias = torch.randn(outputs, generator=generator)
        for rows in ROWS:
            x = torch.randn(rows, inputs, generator=generator)
            plain, blocked = [], []
            for _ in range(args.repeats + 1):  # the first round warms both up
                plain.append(_ms(torch.nn.functional.linear, x, weight, bias))
                blocked.append(_ms(blocked_addmm, bias, x, weight.t()))
            plain_ms, blocked_ms = statistics.median(plain[1:]), statistics.median(blocked[1:])
            ratio = blocked_ms / plain_ms
            print(f"{name:<14}{rows:>6}{plain_ms:>10.3f}{blocked_ms:>12.3f}{ratio:>8.2f}")
            cases.append({"layer": name, "rows": rows, "plain_ms": round(plain_ms, 3),
                          "blocked_ms": round(blocked_ms, 3), "ratio": round(ratio, 2)})
    print(json.dumps({"block_rows": BLOCK_ROWS, "threads": torch.get_num_threads(),
                      "repeats": args.repeats, "cases": cases,
                      "loadavg": loadavg()}))


if __name__ == "__main__":
    main()
