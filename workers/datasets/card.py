"""The data card (Markdown) written beside each dataset version."""

from __future__ import annotations

from typing import Any

from workers.datasets.types import SPLITS


def data_card(*, title: str, description: str, sources: list[str], options: dict[str, Any],
              stats: dict[str, Any]) -> str:
    dropped = stats["dropped"]
    pii = stats["pii_removed"]
    languages = ", ".join(f"{code} ({n})" for code, n in stats["languages"].items()) or "none"
    splits = "\n".join(f"| {name} | {stats['splits'][name]['documents']:,} | "
                       f"{stats['splits'][name]['tokens']:,} |" for name in SPLITS)
    histogram = "\n".join(f"| {row['range']} | {row['documents']:,} |"
                          for row in stats["length_histogram"])
    source_lines = "\n".join(f"- {s}" for s in sources) or "- (none)"
    kept_languages = ", ".join(options["languages"]) or "any"
    return f"""# {title}

{description or "No description given."}

## Sources

{source_lines}

## Cleaning

- HTML converted to text: {stats['html_documents']:,} documents; Unicode NFKC; control
  and zero-width characters removed.
- Boilerplate lines removed: {stats['boilerplate_lines_removed']:,}.
- Length kept: {options['min_chars']:,} to {options['max_chars']:,} characters.
- Languages kept: {kept_languages}.
- Near-duplicates: MinHash of 5-word shingles, estimated Jaccard index at least
  {options['near_duplicate_threshold']}.
- PII scrubbing: {"on" if options['scrub_pii'] else "off"}.
- Split seed: {options['seed']}; validation share {options['validation_share']}, test share
  {options['test_share']}.

| | documents |
| --- | --- |
| imported | {stats['documents_in']:,} |
| empty | {dropped['empty']:,} |
| too short | {dropped['too_short']:,} |
| too long | {dropped['too_long']:,} |
| exact duplicates | {dropped['exact_duplicates']:,} |
| other language | {dropped['language']:,} |
| near-duplicates | {dropped['near_duplicates']:,} |
| kept | {stats['documents']:,} |

PII replaced: {pii['emails']:,} emails, {pii['phone_numbers']:,} phone numbers,
{pii['card_numbers']:,} card numbers.

## Splits

| split | documents | tokens |
| --- | --- | --- |
{splits}

Tokens are words (jieba words in Chinese, characters in Japanese): {stats['tokens']:,} in all.
Languages: {languages}.

## Preference pairs

{stats.get('preference_pairs', 0):,} pairs in preferences.jsonl: a reviewer's approved text (chosen)
over a draft of the same brief passed over (rejected), with the prompt. The built-in
training, plain continuation on the train split, does not read them; a preference method
(DPO) can.

## Lengths (characters)

| range | documents |
| --- | --- |
{histogram}

## Use

The texts belong to the workspace that imported them; train only on what it may use.
"""
