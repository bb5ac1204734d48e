"""The processes `manage.py serve` starts on one host share its cores for torch."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aigc_platform.stack import stack_processes


def test_each_torch_worker_gets_half_the_cores(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    # Given an operator who chose no thread count
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    # When the stack is built
    processes = stack_processes(web_port=8000, log_dir=tmp_path, env={"AIGC_X": "1"})
    # Then both workers (model and embeddings) get half the cores, the web server none
    half = str(max(1, (os.cpu_count() or 1) // 2))
    threads = {p.name: p.env.get("OMP_NUM_THREADS") for p in processes}
    assert threads == {"worker-gpu": half, "worker-cpu-io": half, "web": None}
    assert all(p.env["AIGC_X"] == "1" for p in processes)


@pytest.mark.parametrize("where", ["environment", "env"])
def test_an_operators_thread_count_is_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                           where: str) -> None:
    # Given an operator who set OMP_NUM_THREADS in the environment or the stack's env
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    if where == "environment":
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
    env = {"OMP_NUM_THREADS": "3"} if where == "env" else {}
    # When the stack is built, then no worker's env overrides it
    processes = stack_processes(web_port=None, log_dir=tmp_path, env=env)
    assert [p.name for p in processes] == ["worker-gpu", "worker-cpu-io"]
    for process in processes:
        assert {**os.environ, **process.env}["OMP_NUM_THREADS"] == "3"
