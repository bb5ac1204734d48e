"""Training the built-in model: a byte-level BPE tokenizer and a small GPT-2 from scratch.

The defaults were sized on a 2-core CPU (the smallest machine the platform
targets). In two-minute trials there, 1.3M parameters beat 2.6M (1,309 vs 803
steps; 2.14 vs 2.21 held-out bits per character) and batches of 8 beat 16 and
4, so the default takes 2,400 steps of 8 x 128 tokens, about 90 ms each on an
idle machine. Training stops at its step count or its time budget, whichever
comes first, and the learning-rate schedule follows the same clock, so
`train_model` ends in under five minutes on a busy machine too. The model is
written to a temporary folder and renamed into place, so a worker never loads
a half-written model.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from workers.generation.builtin.card import model_card
from workers.generation.builtin.corpus import CorpusSplit, corpus_documents, corpus_split
from workers.generation.builtin.plan import TrainingPlan, TrainingReport
from workers.generation.engine import InvalidRequest, resolve_device

DEFAULT_STEPS = 2400
EOS = "<|endoftext|>"
WEIGHTS_FILE = "model.safetensors"
METADATA_FILE = "training.json"


def _train_tokenizer(documents: list[str], vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=2, special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tokenizer.train_from_iterator(documents, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=EOS,
        model_max_length=1_000_000,  # the engine slides its window; no truncation warnings
    )


def token_stream(tokenizer: Any, documents: list[str]) -> Any:
    """All documents as one id tensor, each followed by the end-of-text token."""
    import torch

    eos = tokenizer.eos_token_id
    ids: list[int] = []
    for encoded in tokenizer.backend_tokenizer.encode_batch(documents):
        ids.extend(encoded.ids)
        ids.append(eos)
    return torch.tensor(ids, dtype=torch.long)


def _learning_rate(step: int, progress: float, plan: TrainingPlan) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak as `progress` goes 0 → 1."""
    if step < plan.warmup_steps:
        return plan.learning_rate * (step + 1) / plan.warmup_steps
    return plan.learning_rate * (0.1 + 0.45 * (1 + math.cos(math.pi * min(1.0, progress))))


OnLoss = Callable[[int, float], None]  # (step, mean loss of the recent steps)
LOSS_EVERY = 10  # steps between loss reports: ~1 s apart for the shipped model on 2 cores


# Steps between checkpoints: ~5 s of the shipped model's steps on 2 cores; a worker killed
# mid-run loses at most this much when the run is sent again.
CHECKPOINT_EVERY = 50
CHECKPOINT_FILE = "state.pt"


def checkpoint_dir(output_dir: Path) -> Path:
    """Where a run writing `output_dir` keeps its checkpoint (beside it, hidden)."""
    return output_dir.with_name(f".{output_dir.name}.checkpoint")


def _fingerprint(train_ids: Any, steps: int, plan: TrainingPlan) -> str:
    """What a checkpoint is valid for: the same tokens, step count and plan."""
    digest = hashlib.sha256(train_ids.cpu().numpy().tobytes())
    digest.update(repr((steps, sorted(asdict(plan).items()))).encode())
    return digest.hexdigest()


def optimise(model: Any, train_ids: Any, steps: int, plan: TrainingPlan,
             log: Callable[[str], None], on_loss: OnLoss | None = None,
             checkpoint: Path | None = None) -> tuple[int, list[float]]:
    """Train on random windows until `steps` or the time budget; the steps done, last losses.

    With `checkpoint` (a folder), the weights, optimiser, window sampler and step are saved
    there every CHECKPOINT_EVERY steps, and a run started again on the same data and plan
    (its worker was killed) continues from the last one instead of from step 0.
    """
    import torch

    # Only what learns: LoRA freezes the base weights.
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=plan.learning_rate, betas=(0.9, 0.95),
                                  weight_decay=0.01)
    device = next(model.parameters()).device
    train_ids = train_ids.to(device)
    # Windows are drawn on the CPU, so a seed picks the same windows on any device.
    sampler = torch.Generator().manual_seed(plan.seed)
    window = torch.arange(plan.block_size)
    recent: list[float] = []
    step = 0
    fingerprint = _fingerprint(train_ids, steps, plan) if checkpoint is not None else ""
    saved = checkpoint / CHECKPOINT_FILE if checkpoint is not None else None
    if saved is not None and saved.is_file():
        state = torch.load(saved, map_location=device, weights_only=True)
        if state["fingerprint"] == fingerprint:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            sampler.set_state(state["sampler"])
            step, recent = int(state["step"]), list(state["recent"])
            log(f"resumed from the checkpoint of step {step}")
    model.train()
    started = time.perf_counter()
    while step < steps:
        elapsed = time.perf_counter() - started
        if plan.max_seconds is not None and elapsed >= plan.max_seconds:
            log(f"time budget of {plan.max_seconds:.0f} s spent after {step} steps")
            break
        progress = max(step / steps, elapsed / plan.max_seconds if plan.max_seconds else 0.0)
        for group in optimizer.param_groups:
            group["lr"] = _learning_rate(step, progress, plan)
        starts = torch.randint(0, len(train_ids) - plan.block_size, (plan.batch_size,),
                               generator=sampler)
        batch = train_ids[(starts[:, None] + window).to(device)]
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        recent = (recent + [loss.item()])[-20:]
        step += 1
        if on_loss is not None and (step % LOSS_EVERY == 0 or step == steps):
            on_loss(step, sum(recent) / len(recent))
        if step % 200 == 0 or step == steps:
            log(f"step {step}/{steps}: loss {sum(recent) / len(recent):.3f}")
        if saved is not None and step % CHECKPOINT_EVERY == 0 and step < steps:
            _checkpoint_save(saved, {
                "fingerprint": fingerprint, "step": step, "recent": recent,
                "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "sampler": sampler.get_state()})
    return step, recent


def _checkpoint_save(path: Path, state: dict[str, Any]) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    torch.save(state, partial)
    partial.replace(path)  # a kill mid-save leaves the previous checkpoint whole


def heldout_loss(model: Any, ids: Any, plan: TrainingPlan) -> float:
    import torch

    usable = (len(ids) - 1) // plan.block_size
    blocks = ids[: usable * plan.block_size].view(usable, plan.block_size)[: plan.eval_blocks]
    blocks = blocks.to(next(model.parameters()).device)
    model.eval()
    losses: list[float] = []
    with torch.no_grad():
        for start in range(0, len(blocks), plan.batch_size):
            batch = blocks[start : start + plan.batch_size]
            losses.append(model(input_ids=batch, labels=batch).loss.item() * len(batch))
    model.train()
    return sum(losses) / len(blocks)


def file_revision(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:12]


def move_into_place(built: Path, output_dir: Path, *, replace_existing: bool) -> None:
    if output_dir.exists():
        if not replace_existing:
            raise FileExistsError(f"{output_dir} already exists; pass replace_existing=True")
        retired = output_dir.with_name(f".{output_dir.name}.old-{os.getpid()}")
        output_dir.rename(retired)
        built.rename(output_dir)
        shutil.rmtree(retired)
    else:
        built.rename(output_dir)


def train_builtin_model(
    output_dir: Path,
    steps: int = DEFAULT_STEPS,
    plan: TrainingPlan | None = None,
    *,
    replace_existing: bool = False,
    on_log: Callable[[str], None] | None = None,
    on_loss: OnLoss | None = None,
    corpus: CorpusSplit | None = None,
) -> TrainingReport:
    """Train the tokenizer and the model, save both as a Hugging Face folder with a model card.

    `corpus` (a dataset version's train and test splits) replaces the plan's corpus file.
    Refuses to overwrite `output_dir` unless `replace_existing`; the swap is a rename.
    """
    import torch

    plan = plan or TrainingPlan()
    output_dir = Path(output_dir).resolve()
    if output_dir.exists() and not replace_existing:
        raise FileExistsError(f"{output_dir} already exists; pass replace_existing=True")
    threads = torch.get_num_threads()
    torch.set_num_threads(plan.threads or threads)
    try:
        return _train(output_dir, steps, plan, replace_existing, on_log or (lambda _: None),
                      on_loss, corpus)
    finally:
        torch.set_num_threads(threads)


def _train(output_dir: Path, steps: int, plan: TrainingPlan, replace_existing: bool,
           log: Callable[[str], None], on_loss: OnLoss | None,
           corpus: CorpusSplit | None = None) -> TrainingReport:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    started = time.perf_counter()
    if corpus is None:
        documents = corpus_documents(plan.corpus)[: plan.max_documents]
        split = corpus_split(documents)
    else:
        split = replace(corpus, train=corpus.train[: plan.max_documents])
        documents = [*split.train, *split.heldout]
    tokenizer = _train_tokenizer(split.train, plan.vocab_size)
    train_ids = token_stream(tokenizer, split.train)
    heldout_ids = token_stream(tokenizer, split.heldout)
    if len(heldout_ids) <= plan.block_size or len(train_ids) <= plan.block_size:
        raise InvalidRequest(f"Too little text to train on: {len(train_ids)} training and "
                             f"{len(heldout_ids)} held-out tokens; each needs more than one "
                             f"window of {plan.block_size} (lower block_size, or add text).")
    log(f"corpus: {len(documents)} documents, {len(train_ids)} training tokens, "
        f"{len(heldout_ids)} held-out tokens, vocabulary {len(tokenizer)}")

    torch.manual_seed(plan.seed)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=plan.block_size, n_embd=plan.n_embd,
        n_layer=plan.n_layer, n_head=plan.n_head, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    model = GPT2LMHeadModel(config).to(resolve_device(plan.device))
    parameters = sum(p.numel() for p in model.parameters())
    step, recent_losses = optimise(model, train_ids, steps, plan, log, on_loss,
                                   checkpoint=checkpoint_dir(output_dir))
    final_heldout = heldout_loss(model, heldout_ids, plan)

    built = output_dir.with_name(f".{output_dir.name}.new-{os.getpid()}")
    shutil.rmtree(built, ignore_errors=True)
    model.save_pretrained(built)
    tokenizer.save_pretrained(built)
    report = TrainingReport(
        output_dir=str(output_dir), revision=file_revision(built / WEIGHTS_FILE),
        parameters=parameters, steps=step, planned_steps=steps,
        tokens_seen=step * plan.batch_size * plan.block_size,
        final_loss=round(sum(recent_losses) / len(recent_losses), 4) if recent_losses
        else float("nan"),
        heldout_loss=round(final_heldout, 4), heldout_perplexity=round(math.exp(final_heldout), 2),
        train_seconds=round(time.perf_counter() - started, 1), train_tokens=len(train_ids),
        heldout_tokens=len(heldout_ids), vocab_size=len(tokenizer),
        corpus_source=split.source, corpus_licence=split.licence, model_name=split.model_name,
    )
    plan_json = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(plan).items()}
    metadata = {**report.to_json(), "plan": plan_json}
    (built / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n")
    (built / "README.md").write_text(model_card(report, plan))
    # The weights arrive 0600 (a renamed temp file); workers may run as another user.
    for path in built.iterdir():
        path.chmod(0o644)
    move_into_place(built, output_dir, replace_existing=replace_existing)
    shutil.rmtree(checkpoint_dir(output_dir), ignore_errors=True)
    log(f"saved to {output_dir} (revision {report.revision})")
    return report
