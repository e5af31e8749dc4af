"""``dbdzoo list`` shows whole sentences, and only networks with weights are called released."""

from __future__ import annotations

from dbdzoo.cli import main
from dbdzoo.cli.info import first_sentence


def test_first_sentence_joins_the_summary_and_stops_at_its_full_stop():
    doc = """A network on a backbone,
    wrapped over two lines. More detail.

    Args: ..."""
    assert first_sentence(doc) == "A network on a backbone, wrapped over two lines."
    assert first_sentence(None) == ""


def test_list_lines_end_in_whole_sentences(capsys):
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for line in lines:
        description = line.rsplit("  [", 1)[0]
        assert description.rstrip().endswith((".", ")")), line
    claims = [line.split()[0] for line in lines if line.split(None, 1)[1].startswith("The released")]
    assert claims == ["fpn_resnet10t"]  # fpn_resnet18 was once called the released network too
    assert "[cuhk, default, synthetic]" in next(x for x in lines if x.startswith("fpn_resnet10t "))
