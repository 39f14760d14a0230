"""Unit tests for fixture.core."""

from fixture.core import add, classify, greet, mean, shout


def test_add() -> None:
    assert add(2, 3) == 5


def test_mean() -> None:
    assert mean([]) == 0.0
    assert mean([1.0, 3.0]) == 2.0


def test_shout() -> None:
    assert shout("hi") == "HI!"


def test_classify() -> None:
    assert classify(-1) == "negative"
    assert classify(0) == "zero"
    assert classify(2) == "positive"


def test_greet() -> None:
    assert greet("ada") == "hello ada"
