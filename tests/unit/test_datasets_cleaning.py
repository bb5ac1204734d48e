"""The dataset engine: uploads read safely, the cleaning pipeline on the garden corpus,
deterministic seeded splits."""

from __future__ import annotations

import io
import zipfile

import pytest

from workers.datasets.cleaning import clean, html_text, normalise, split_documents
from workers.datasets.files import UploadRefused, upload_documents
from workers.datasets.types import CleanDocument, CleaningOptions, RawDocument

OPTIONS = CleaningOptions(min_chars=150, languages=("en",), scrub_pii=True, seed=7,
                          validation_share=0.2, test_share=0.2)


def garden_documents(files: dict[str, bytes]) -> list[RawDocument]:
    return [doc for name, data in files.items() for doc in upload_documents(name, data)]


def zipped(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_the_garden_corpus_is_cleaned_deduplicated_filtered_and_scrubbed(garden_files):
    # given the eleven documents of the bundled corpus
    documents = garden_documents(garden_files)
    assert len(documents) == 11
    # when they are cleaned for English, with PII scrubbing
    result = clean(documents, OPTIONS)
    # then each drop is counted by its reason, and seven documents are kept
    stats = result.stats
    assert (stats["documents_in"], stats["documents"]) == (11, 7)
    assert stats["dropped"] == {"empty": 0, "too_short": 1, "too_long": 0, "exact_duplicates": 1,
                                "language": 1, "near_duplicates": 1}
    assert stats["duplicates_removed"] == 2
    assert stats["pii_removed"] == {"emails": 1, "card_numbers": 0, "phone_numbers": 1}
    assert stats["boilerplate_lines_removed"] == 3  # the newsletter line of three pages
    assert stats["html_documents"] == 3
    assert stats["languages"] == {"en": 7}
    assert {name: split["documents"] for name, split in stats["splits"].items()} == {
        "train": 5, "validation": 1, "test": 1}
    assert stats["tokens"] == sum(s["tokens"] for s in stats["splits"].values()) == 378
    assert sum(row["documents"] for row in stats["length_histogram"]) == 7
    kept = [d for split in result.splits.values() for d in split]
    text = "\n".join(d.text for d in kept)
    for gone in ("Home", "Copyright", "track()", "color:red", "Subscribe", "Im Herbst",
                 "jane.doe@example.com", "7946", "Short note"):
        assert gone not in text
    assert "For questions write to [email] or call [phone] before Friday evening." in text
    # the near-copy (plain text) of the compost page and the repeated JSONL note are gone
    assert sorted(d.id.split("#")[0] for d in kept) == [
        "compost-copy.txt", "contact.md", "garden-roses.html", "garden-tomatoes.html", "note-1",
        "questions.csv", "questions.csv"]
    assert result.samples[0]["original"].startswith("Making compost in a small garden")


def test_html_becomes_paragraphs_without_the_page_furniture():
    html = ("<html><head><script>x()</script></head><body><nav>Menu</nav><h1>Title</h1>"
            "<p>One <a href='#'>linked</a> line.<br>Next line.</p><footer>Foot</footer></body>")
    assert normalise(html_text(html)) == "Title\n\nOne linked line.\nNext line."
    # NFKC and invisible characters: full-width letters, a ligature, a zero-width space
    assert normalise("Ｆｕｌｌ ﬁne\u200bprint\r\n\n\n\nend") == "Full fineprint\n\nend"


def test_the_split_is_seeded_and_independent_of_import_order():
    documents = [CleanDocument(id=str(n), text=f"document number {n}", language="en", tokens=3)
                 for n in range(20)]
    options = CleaningOptions(seed=3, validation_share=0.1, test_share=0.2)

    def ids(split: dict[str, list[CleanDocument]]) -> dict[str, list[str]]:
        return {name: sorted(d.id for d in docs) for name, docs in split.items()}

    first = ids(split_documents(documents, options))
    assert ids(split_documents(list(reversed(documents)), options)) == first
    assert {name: len(v) for name, v in first.items()} == {"test": 4, "validation": 2, "train": 14}
    other_seed = ids(split_documents(documents, CleaningOptions(seed=4, validation_share=0.1,
                                                                test_share=0.2)))
    assert other_seed["test"] != first["test"]
    # three documents put one in each split whose share is above 0
    three = ids(split_documents(documents[:3], options))
    assert {name: len(v) for name, v in three.items()} == {"test": 1, "validation": 1, "train": 1}


def test_a_zip_of_the_corpus_reads_like_its_files(garden_files):
    archive = zipped({f"garden/{name}": data for name, data in garden_files.items()})
    documents = upload_documents("garden.zip", archive)
    assert [d.source for d in documents] == [
        f"garden.zip/garden/{name}" for name, data in garden_files.items()
        for _ in upload_documents(name, data)]


@pytest.mark.parametrize(("members", "refusal"), [
    ({"../../etc/passwd.txt": b"x"}, "points outside the archive"),
    ({"/abs/path.txt": b"x"}, "points outside the archive"),
    ({"inner.zip": b"PK"}, "archives inside archives are not read"),
    ({"bomb.txt": b"0" * 2_000_000}, "inflates more than 100 times"),
    ({"image.png": b"x"}, "not a file kind that can be imported"),
])
def test_unsafe_or_unreadable_zip_members_refuse_the_whole_archive(members, refusal):
    with pytest.raises(UploadRefused, match=refusal):
        upload_documents("upload.zip", zipped(members))


@pytest.mark.parametrize(("name", "data", "refusal"), [
    ("notes.jsonl", b'{"text": "fine"}\n{broken\n', r"notes.jsonl, line 2: not JSON"),
    ("notes.jsonl", b'["a list"]\n', r"line 1: a record is a JSON object"),
    ("rows.csv", b"title,summary\nA,B\n", r"rows.csv, record 1: no text field"),
    ("latin1.txt", "caf\u00e9".encode("latin-1"), "is not UTF-8 text"),
    ("fake.zip", b"not a zip", "is not a zip archive"),
])
def test_unreadable_files_are_refused_with_the_reason(name, data, refusal):
    with pytest.raises(UploadRefused, match=refusal):
        upload_documents(name, data)


def test_chinese_is_measured_in_words_and_its_near_copies_found():
    # given a Chinese article, the same article with one phrase changed, and another one
    article = ("堆肥是把厨房里的果皮菜叶和院子里的落叶混合在一起，保持湿润，每隔一两个星期翻动一次，"
               "让空气进入堆的中间。几个月以后，这些材料就会变成深色松软的肥料，可以用来改良花园的土壤。")
    edited = article.replace("几个月以后", "大约三个月以后")
    other = ("番茄喜欢阳光充足的角落和排水良好的深盆。早上在根部浇水，不要淋湿叶子，"
             "这样可以减少病害。第一批花结出小果以后，每周施一次富含钾的液体肥料。")
    result = clean([RawDocument(id=n, text=t) for n, t in
                    (("a", article), ("b", edited), ("c", other))],
                   CleaningOptions(min_chars=20, languages=("zh",), validation_share=0,
                                   test_share=0))
    # then the edited copy is a near-duplicate, and tokens are jieba words, not characters
    assert result.stats["dropped"]["near_duplicates"] == 1
    assert result.stats["languages"] == {"zh": 2}
    kept = {d.id: d for d in result.splits["train"]}
    assert sorted(kept) == ["a", "c"]
    assert (kept["a"].tokens, len(kept["a"].text)) == (47, 86)  # jieba's words, 86 characters
