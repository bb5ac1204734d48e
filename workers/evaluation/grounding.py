"""Grounding: is each sentence of a draft supported by some sentence of the brief's sources?

Support of a draft sentence by a source sentence is the mean of two numbers in [0, 1]:
the cosine similarity of their embeddings (same meaning) and the share of the draft
sentence's content words, stemmed, that the source sentence contains (same facts).
Embeddings alone are too topical: with all-MiniLM-L6-v2 a made-up claim about the
source's topic ("compost cures baldness") scores ~0.54 against it, a faithful
paraphrase ~0.55-0.7. The word share separates them (~0.3 vs ~0.7), so a sentence
counts as supported when its best support reaches SUPPORT_THRESHOLD = 0.55.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np

from workers.evaluation.language import Language, tokens

SUPPORT_THRESHOLD = 0.55
STOP_WORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being
below between both but by can could did do does doing down during each few for from further
had has have having he her here hers herself him himself his how i if in into is it its itself
just me more most my myself no nor not now of off on once only or other our ours ourselves out
over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which
while who whom why will with would you your yours yourself yourselves also like may might must
shall it's don't
""".split())
# Chinese function words (particles, pronouns, copula, common prepositions and conjunctions):
# they carry no fact, as the English list above.
CHINESE_STOP_WORDS = frozenset("""
的 了 是 在 和 与 及 或 也 都 就 而 但 并 又 还 被 把 让 对 从 向 到 为 以 于 由 之 其 这 那 这些 那些
这个 那个 我 你 他 她 它 我们 你们 他们 她们 它们 一个 有 没有 不 很 更 最 会 能 可以 将 等 着 过 吗 呢
吧 啊 呀 所以 因为 如果 但是 而且 以及 或者 自己 什么 怎么 如何
""".split())


@cache
def _stem(word: str) -> str:
    from nltk.stem.porter import PorterStemmer  # needs no downloaded data

    stem: str = PorterStemmer().stem(word)
    return stem


def content_stems(sentence: str, lang: Language) -> set[str]:
    """The sentence's words less function words; English ones stemmed ("composting": "compost").

    English and Chinese have function-word lists here; in other languages every word counts.
    """
    words = (t.lower() for t in tokens(sentence, lang))
    if lang.code == "en":
        return {_stem(w) for w in words if w not in STOP_WORDS}
    stop = CHINESE_STOP_WORDS if lang.code == "zh" else frozenset()
    return {w for w in words if w not in stop}


def grounding(
    draft_sentences: Sequence[str],
    draft_vectors: Sequence[Sequence[float]],
    source_sentences: Sequence[str],
    source_vectors: Sequence[Sequence[float]],
    lang: Language,
    threshold: float = SUPPORT_THRESHOLD,
) -> dict[str, object]:
    """Share of draft sentences supported by a source sentence, and the unsupported ones.

    Vectors are unit-length embeddings of the sentences, in order.
    """
    if not draft_sentences:
        return {"grounding": 0.0, "unsupported_sentences": []}
    if not source_sentences:
        return {"grounding": 0.0, "unsupported_sentences": list(draft_sentences)}
    cosine = (np.asarray(draft_vectors, dtype=np.float64)
              @ np.asarray(source_vectors, dtype=np.float64).T)
    source_stems = [content_stems(s, lang) for s in source_sentences]
    unsupported = []
    for i, sentence in enumerate(draft_sentences):
        stems = content_stems(sentence, lang)
        shares = np.asarray([len(stems & src) / len(stems) if stems else 0.0
                             for src in source_stems])
        if ((cosine[i] + shares) / 2).max() < threshold:
            unsupported.append(sentence)
    return {
        "grounding": 1.0 - len(unsupported) / len(draft_sentences),
        "unsupported_sentences": unsupported,
    }
