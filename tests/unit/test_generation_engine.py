"""The generation engine against a real (tiny) model trained in this session."""

from __future__ import annotations

from pathlib import Path

import pytest

from workers.generation.builtin.plan import TrainingReport
from workers.generation.engine import (
    InvalidRequest,
    ModelUnavailable,
    generate,
    load_model,
)
from workers.generation.types import GenerationRequest

PROMPT = "Title: Composting at home\nWrite a short piece about compost.\n\n"


def request(**kwargs: object) -> GenerationRequest:
    values: dict = {"prompt": PROMPT, "variants": 3, "max_new_tokens": 12, "min_new_tokens": 12,
                    "seed": 7, "temperature": 1.0, "top_p": 0.95, "device": "cpu"}
    values.update(kwargs)
    return GenerationRequest(**values)


def prompt_length(models_dir: Path) -> int:
    tokenizer = load_model("builtin", "cpu", models_dir).tokenizer
    return len(tokenizer(PROMPT, add_special_tokens=False)["input_ids"])


def test_variants_are_written_with_consecutive_seeds_and_counted(
    tiny_models_dir: Path, tiny_training: TrainingReport
) -> None:
    # given a request for three sampled variants
    # when they are generated
    texts = generate(request(), models_dir=tiny_models_dir)
    # then each variant has its own seed, the full token budget and the model's revision
    assert [t.variant for t in texts] == [0, 1, 2]
    assert [t.seed for t in texts] == [7, 8, 9]
    assert [t.completion_tokens for t in texts] == [12, 12, 12]
    assert {t.prompt_tokens for t in texts} == {prompt_length(tiny_models_dir)}
    assert {t.model_name for t in texts} == {"builtin"}
    assert {t.model_revision for t in texts} == {tiny_training.revision}
    assert texts[0].parameters == {"temperature": 1.0, "top_p": 0.95, "max_new_tokens": 12,
                                   "min_new_tokens": 12, "stop": [], "device": "cpu"}
    # and different seeds wrote different texts
    assert len({t.text for t in texts}) == 3
    assert all(t.text for t in texts)


def test_a_seed_writes_the_same_text_again(tiny_models_dir: Path) -> None:
    first = generate(request(variants=2), models_dir=tiny_models_dir)
    second = generate(request(variants=2), models_dir=tiny_models_dir)
    assert [t.text for t in first] == [t.text for t in second]


def test_greedy_decoding_is_deterministic_and_ignores_the_seed(
    tiny_models_dir: Path,
) -> None:
    greedy = generate(request(temperature=0.0, seed=1), models_dir=tiny_models_dir)
    again = generate(request(temperature=0.0, seed=99), models_dir=tiny_models_dir)
    assert len({t.text for t in greedy + again}) == 1


def test_variants_can_differ_in_temperature_as_well_as_seed(
    tiny_models_dir: Path,
) -> None:
    # given three variants: greedy, bold, greedy again (temperatures cycle)
    texts = generate(request(temperatures=(0.0, 1.5)), models_dir=tiny_models_dir)
    greedy = generate(request(temperature=0.0, variants=1), models_dir=tiny_models_dir)[0]
    # then the greedy variants write the greedy text whatever their seed, the bold one does not,
    # and each draft records the temperature it was written at
    assert [t.parameters["temperature"] for t in texts] == [0.0, 1.5, 0.0]
    assert texts[0].text == texts[2].text == greedy.text != texts[1].text


def test_on_text_sees_each_variant_grow_to_its_final_text(tiny_models_dir: Path) -> None:
    seen: dict[int, list[tuple[str, int]]] = {0: [], 1: []}
    texts = generate(request(variants=2), lambda v, text, n: seen[v].append((text, n)),
                     models_dir=tiny_models_dir)
    for variant, updates in seen.items():
        assert [n for _, n in updates] == sorted(n for _, n in updates)
        for (earlier, _), (later, _) in zip(updates, updates[1:], strict=False):
            assert later.startswith(earlier)
        assert updates[-1][0].strip() == texts[variant].text


def test_should_stop_ends_generation_between_steps(tiny_models_dir: Path) -> None:
    asked = []

    def should_stop() -> bool:
        asked.append(1)
        return len(asked) > 2  # two steps, then stop

    texts = generate(request(), None, should_stop, models_dir=tiny_models_dir)
    assert [t.completion_tokens for t in texts] == [2, 2, 2]
    assert len(asked) == 3


def test_generation_slides_past_the_models_context(
    tiny_models_dir: Path, tiny_training: TrainingReport
) -> None:
    # given the tiny model's 64 positions, when 150 tokens are asked for
    texts = generate(request(variants=1, max_new_tokens=150, min_new_tokens=150),
                     models_dir=tiny_models_dir)
    # then all are written
    assert texts[0].completion_tokens == 150


def test_a_stop_string_ends_the_text_before_it(tiny_models_dir: Path) -> None:
    texts = generate(request(max_new_tokens=40, min_new_tokens=40, stop=("e",)),
                     models_dir=tiny_models_dir)
    assert all("e" not in t.text for t in texts)
    assert all(t.completion_tokens < 40 for t in texts)


def test_a_missing_builtin_model_says_how_to_train_it(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match=r"Run `python manage\.py train_model`"):
        generate(request(), models_dir=tmp_path)


def test_a_missing_model_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="does not exist on this worker"):
        generate(request(model=str(tmp_path / "nowhere")))


def test_a_hub_id_missing_from_the_local_cache_is_never_downloaded() -> None:
    with pytest.raises(ModelUnavailable, match="never download at run time"):
        generate(request(model="example-org/no-such-model"))


def test_any_hugging_face_folder_loads_by_path(
    tiny_model_dir: Path, tiny_training: TrainingReport
) -> None:
    texts = generate(request(model=str(tiny_model_dir), variants=1))
    assert texts[0].model_name == str(tiny_model_dir)
    assert texts[0].model_revision == tiny_training.revision


def test_the_model_is_loaded_once_per_process(tiny_models_dir: Path) -> None:
    assert load_model("builtin", "cpu", tiny_models_dir) is load_model(
        "builtin", "cpu", tiny_models_dir)


@pytest.mark.parametrize(
    ("change", "message"),
    [({"variants": 0}, "variants"), ({"temperature": -1.0}, "temperature"),
     ({"top_p": 0.0}, "top_p"), ({"min_new_tokens": 13}, "min_new_tokens"),
     ({"device": "tpu"}, "Unknown device")],
)
def test_requests_the_engine_cannot_serve_are_refused(
    tiny_models_dir: Path, change: dict, message: str
) -> None:
    with pytest.raises(InvalidRequest, match=message):
        generate(request(**change), models_dir=tiny_models_dir)


def test_nucleus_picks_stay_in_the_nucleus_with_its_renormalised_odds() -> None:
    import torch

    from workers.generation import engine

    # given a 6-token distribution whose 0.8-nucleus is its three likeliest tokens
    probs = torch.tensor([[0.05, 0.40, 0.05, 0.25, 0.20, 0.05]]).repeat(20_000, 1)
    top_p = torch.full((20_000, 1), 0.8)
    generator = torch.Generator().manual_seed(11)
    # when one token is picked per row
    picked = engine._nucleus_pick(probs, top_p,
                                  lambda rows: torch.rand(len(rows), 1, generator=generator))
    # then only nucleus tokens come out, at 0.40 : 0.25 : 0.20 renormalised (within 2 points)
    counts = torch.bincount(picked, minlength=6) / 20_000
    assert counts[[0, 2, 5]].tolist() == [0.0, 0.0, 0.0]
    for token, share in ((1, 0.40 / 0.85), (3, 0.25 / 0.85), (4, 0.20 / 0.85)):
        assert abs(counts[token].item() - share) < 0.02


def test_a_row_rejected_every_round_is_picked_by_ranking() -> None:
    import torch

    from workers.generation import engine

    # given a flat distribution with a tiny top_p: a nucleus of the ~41 likeliest of 4096 tokens
    probs = torch.softmax(torch.linspace(0, 0.01, 4096), dim=-1).unsqueeze(0)
    rounds: list[int] = []

    def draw(rows: list[int]) -> torch.Tensor:
        rounds.append(len(rows))
        return torch.full((len(rows), 1), 0.5)  # always the middle of the vocabulary

    [token] = engine._nucleus_pick(probs, torch.tensor([[0.01]]), draw).tolist()
    # then after every round's draw landed outside, the ranked nucleus's middle was picked
    assert rounds == [1] * (engine.REJECTION_ROUNDS + 1)
    assert probs[0, token + 1:].sum().item() <= 0.01 and token == 4075
