"""Canary checks and gates: the expression parser, and the rule over rounds (no Prometheus
needed here; tests/fleet/test_prometheus.py asks a real one)."""

from __future__ import annotations

import math

import pytest

from hotconf.errors import CheckError
from hotconf.fleet.checks import Analysis, Check, Reading, Round, parse_checks


@pytest.mark.parametrize(
    ("text", "name", "query", "op", "threshold"),
    [
        ("errors=sum(rate(x[1m])) <= 0.05", "errors", "sum(rate(x[1m]))", "<=", 0.05),
        ("p99 = histogram_quantile(0.99, sum by (le) (rate(h[5m]))) < 0.25", "p99",
         "histogram_quantile(0.99, sum by (le) (rate(h[5m])))", "<", 0.25),
        ('e5xx=sum(rate(http_total{code=~"5..",job="a"}[1m])) >= 1e-3', "e5xx",
         'sum(rate(http_total{code=~"5..",job="a"}[1m]))', ">=", 0.001),
        ("up.all=count(up == 1) > 2", "up.all", "count(up == 1)", ">", 2.0),
        ("cmp=sum(a) > bool 3 <= 1", "cmp", "sum(a) > bool 3", "<=", 1.0),
        ("neg=min(x)>=-5", "neg", "min(x)", ">=", -5.0),
        ("big_ratio=max(y) < Inf", "big_ratio", "max(y)", "<", math.inf),
    ],
)  # fmt: skip
def test_a_check_is_parsed_by_its_last_comparison(
    text: str, name: str, query: str, op: str, threshold: float
) -> None:
    check = Check.parse(text)
    assert (check.name, check.query, check.op, check.threshold) == (name, query, op, threshold)
    assert Check.parse(str(check)) == check == Check.from_dict(check.to_dict())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sum(x) <= 1", "want NAME=PROMQL"),
        ("=sum(x) <= 1", "want NAME=PROMQL"),
        ("9lives=sum(x) <= 1", "want NAME=PROMQL"),
        ("a==sum(x) <= 1", "want NAME=PROMQL"),
        ("a=sum(x)", "does not end in a comparison"),
        ("a=sum(x) <= high", "does not end in a comparison"),
        ("a=sum(x) == 1", "does not end in a comparison"),
        ("a= <= 1", "empty"),
    ],
)
def test_a_bad_check_says_what_is_wanted(text: str, message: str) -> None:
    with pytest.raises(CheckError, match=message) as err:
        Check.parse(text)
    assert err.value.exit_code == 2 and isinstance(err.value, ValueError)


def test_names_must_differ() -> None:
    with pytest.raises(CheckError, match="two checks are named 'a'"):
        parse_checks(["a=x < 1", "a=y < 2"])


@pytest.mark.parametrize(
    ("op", "value", "passes"),
    [("<=", 1.0, True), ("<", 1.0, False), (">=", 1.0, True), (">", 1.0, False),
     ("<", 0.5, True), (">", 1.5, True), ("<=", math.inf, False), (">", math.inf, True)],
)  # fmt: skip
def test_comparisons(op: str, value: float, passes: bool) -> None:
    assert Check("c", "q", op, 1.0).passes(value) is passes  # type: ignore[arg-type]


A, B = Check.parse("a=x <= 1"), Check.parse("b=y > 0")


def rnd(n: int, *values: float | None) -> Round:
    readings = []
    for check, value in zip((A, B), values, strict=True):
        if value is None:
            readings.append(Reading(check, None, "nodata", "the query returned no sample"))
        else:
            readings.append(Reading(check, value, "pass" if check.passes(value) else "fail"))
    return Round(n, "t", tuple(readings))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_count_passing_rounds_in_a_row_promote_and_no_data_breaks_the_run() -> None:
    clock = Clock()
    rule = Analysis((A, B), count=3, no_data_timeout=10, clock=clock)
    assert rule.judge(rnd(1, 0.5, 1)) == (None, "1/3 consecutive rounds passed")
    clock.now = 1
    assert rule.judge(rnd(2, 0.5, 1))[0] is None
    clock.now = 2
    verdict, why = rule.judge(rnd(3, 0.5, None))
    assert verdict is None and why.startswith("inconclusive, b: no data")
    for n in (4, 5):
        clock.now = n
        assert rule.judge(rnd(n, 1.0, 2))[0] is None
    clock.now = 6
    assert rule.judge(rnd(6, 0.1, 9)) == ("promote", "3 consecutive rounds passed every check")


def test_one_failing_check_aborts_at_once() -> None:
    rule = Analysis((A, B), count=3, no_data_timeout=10, clock=Clock())
    rule.judge(rnd(1, 0.5, 1))
    verdict, why = rule.judge(rnd(2, 1.5, 1))
    assert verdict == "abort" and why == "check a=1.5 <= 1 fail (round 2)"
    assert str(rnd(2, 1.5, None)) == (
        "round 2: fail: a=1.5 <= 1 fail; b: no data (the query returned no sample)"
    )


def test_no_data_waits_up_to_its_bound_then_aborts() -> None:
    clock = Clock()
    rule = Analysis((A, B), count=2, no_data_timeout=5, clock=clock)
    assert rule.judge(rnd(1, None, 1))[0] is None
    clock.now = 4.9
    assert rule.judge(rnd(2, None, None))[0] is None
    clock.now = 5.0
    verdict, why = rule.judge(rnd(3, None, 1))
    assert verdict == "abort" and why.startswith(
        "no conclusive round for 5s (limit 5s): a: no data"
    )


def test_an_analysis_needs_checks_and_a_count() -> None:
    with pytest.raises(CheckError, match="at least one check"):
        Analysis((), count=1, no_data_timeout=1)
    with pytest.raises(CheckError, match="at least 1"):
        Analysis((A,), count=0, no_data_timeout=1)
