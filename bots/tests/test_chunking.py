import itertools

from bots.knowledge.chunking import chunk_pages
from bots.knowledge.extraction import Page


def _sentences(count: int, prefix: str = "Sentence") -> str:
    return " ".join(f"{prefix} number {index} says something useful here." for index in range(count))


def test_a_short_text_is_one_chunk():
    chunks = chunk_pages([Page(1, "One paragraph.\n\nAnother paragraph.")])
    assert [(chunk.position, chunk.text, chunk.page_numbers) for chunk in chunks] == [
        (0, "One paragraph.\n\nAnother paragraph.", [1])
    ]


def test_chunks_stay_under_the_target_and_cut_between_sentences():
    chunks = chunk_pages([Page(1, _sentences(60))], target_chars=400, overlap_chars=80)
    assert len(chunks) > 3
    for chunk in chunks:
        assert len(chunk.text) <= 400
        assert chunk.text.endswith(".")
        assert chunk.text.startswith("Sentence")


def test_consecutive_chunks_overlap():
    chunks = chunk_pages([Page(1, _sentences(40))], target_chars=400, overlap_chars=120)
    assert len(chunks) > 2
    for previous, following in itertools.pairwise(chunks):
        last_sentence = previous.text.rsplit(". ", 1)[-1]
        first_sentence = following.text.split(". ", 1)[0]
        assert last_sentence in following.text
        assert first_sentence in previous.text


def test_paragraph_breaks_are_kept_inside_a_chunk():
    chunks = chunk_pages([Page(1, "First paragraph.\n\n\nSecond   paragraph\nwith a wrapped line.")])
    assert chunks[0].text == "First paragraph.\n\nSecond paragraph with a wrapped line."


def test_a_chunk_remembers_the_pages_it_spans():
    pages = [Page(1, _sentences(3, "Uno")), Page(2, _sentences(3, "Dos")), Page(5, _sentences(30, "Cinco"))]
    chunks = chunk_pages(pages, target_chars=1000, overlap_chars=100)
    assert chunks[0].page_numbers == [1, 2, 5]
    assert chunks[-1].page_numbers == [5]
    assert all(chunk.page_numbers == sorted(chunk.page_numbers) for chunk in chunks)


def test_a_huge_single_line_without_spaces_is_sliced():
    chunks = chunk_pages([Page(1, "x" * 5500)], target_chars=1000, overlap_chars=100)
    assert all(len(chunk.text) <= 1000 for chunk in chunks)
    assert "".join(chunk.text for chunk in chunks).count("x") >= 5500


def test_a_huge_sentence_is_cut_at_words():
    words = " ".join(f"word{index}" for index in range(2000))
    chunks = chunk_pages([Page(1, words)], target_chars=500, overlap_chars=50)
    assert all(len(chunk.text) <= 500 for chunk in chunks)
    assert all(not chunk.text.startswith("ord") for chunk in chunks)
    assert "word1999" in chunks[-1].text


def test_a_chunk_half_full_ends_where_a_paragraph_begins_and_overlaps_by_whole_sentences():
    # 284 characters, past half of 500, then 109: together they would fit.
    first = "Returns. " + "Items can be returned within thirty days of delivery. " * 5
    second = "Refunds. " + "Refunds reach the card used to pay within a week. " * 2
    chunks = chunk_pages(
        [Page(1, f"{first.strip()}\n\n{second.strip()}")], target_chars=500, overlap_chars=100
    )
    assert chunks[0].text == first.strip()
    assert chunks[1].text.startswith("Items can be returned") and chunks[1].text.endswith(second.strip())
    for chunk in chunks:
        assert all(sentence.endswith(".") for sentence in chunk.text.split("\n\n"))
