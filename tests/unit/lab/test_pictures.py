"""A lab's picture without Graphviz is one sentence saying how to get it, not a traceback."""

from __future__ import annotations

import pytest

from labcloud.lab.pictures import NO_GRAPHVIZ, draw


def test_without_graphviz_a_picture_is_one_sentence(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    graph = object()
    assert draw(graph) is None
    assert capsys.readouterr().out.strip() == NO_GRAPHVIZ
    assert "apt-get install graphviz" in NO_GRAPHVIZ


def test_with_graphviz_the_graph_is_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    graph = object()
    assert draw(graph) is graph
