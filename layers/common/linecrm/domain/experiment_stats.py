"""The statistics of an A/B test, in plain Python (``math.erfc``), and its verdict.

- A rate's 95 % confidence interval is Wilson's score interval (sound for small counts
  and for rates near 0, unlike the normal "± 1.96 · se").
- A variant is compared with the control by a two-sided two-proportion z-test (pooled
  standard error); p < ``SIGNIFICANCE`` (0.05) is a difference.

When is there "not enough data yet"? The z-test leans on the normal approximation,
which holds when each arm expects at least 5 conversions and 5 non-conversions at the
pooled rate. We ask for that, and for at least ``MIN_SENT`` (100) friends reached per
arm (LINE itself withholds statistics under 20 recipients). Below that the report
says "not enough data yet" instead of a p-value that pretends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z_95 = 1.959963984540054  # the two-sided 95 % quantile of the normal distribution
SIGNIFICANCE = 0.05
MIN_SENT = 100
MIN_EXPECTED = 5
NOT_ENOUGH_DATA = "not enough data yet"


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson's score interval for ``successes / trials``; None without trials."""
    if trials <= 0:
        return None
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def normal_two_sided_p(z: float) -> float:
    """P(|Z| ≥ |z|) for a standard normal Z."""
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass(frozen=True)
class ProportionTest:
    z: float
    p_value: float


def two_proportion_test(
    successes_a: int, trials_a: int, successes_b: int, trials_b: int
) -> ProportionTest | None:
    """Two-sided z-test of rate b against rate a (pooled); None when undefined
    (no trials, or nobody / everybody converted in both)."""
    if trials_a <= 0 or trials_b <= 0:
        return None
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    variance = pooled * (1 - pooled) * (1 / trials_a + 1 / trials_b)
    if variance <= 0:
        return None
    z = (successes_b / trials_b - successes_a / trials_a) / math.sqrt(variance)
    return ProportionTest(z=z, p_value=normal_two_sided_p(z))


def enough_data(successes_a: int, trials_a: int, successes_b: int, trials_b: int) -> bool:
    """Whether the z-test may decide between two arms (the rule in the module doc)."""
    if trials_a < MIN_SENT or trials_b < MIN_SENT:
        return False
    pooled = (successes_a + successes_b) / (trials_a + trials_b)
    return all(
        trials * pooled >= MIN_EXPECTED and trials * (1 - pooled) >= MIN_EXPECTED
        for trials in (trials_a, trials_b)
    )


def shown_p(p_value: float) -> str:
    return "p < 0.001" if p_value < 0.001 else f"p = {p_value:.3f}".rstrip("0").rstrip(".")


@dataclass(frozen=True)
class Comparison:
    """One arm against the control: the test (None when undecidable) and the words."""

    test: ProportionTest | None
    verdict: str
    decided: bool  # enough data for the test


def compare(
    name: str,
    successes: int,
    trials: int,
    control_name: str,
    control_successes: int,
    control_trials: int,
) -> Comparison:
    """``name`` against ``control_name`` on conversions per friend reached."""
    test = two_proportion_test(control_successes, control_trials, successes, trials)
    if not enough_data(control_successes, control_trials, successes, trials) or test is None:
        return Comparison(test, NOT_ENOUGH_DATA, decided=False)
    if test.p_value < SIGNIFICANCE:
        direction = "better" if test.z > 0 else "worse"
        verdict = f"{name} converts {direction} than {control_name} ({shown_p(test.p_value)})"
    else:
        verdict = f"no difference found between {name} and {control_name} ({shown_p(test.p_value)})"
    return Comparison(test, verdict, decided=True)


def overall_verdict(comparisons: list[Comparison]) -> str:
    """The experiment in one sentence: every decided comparison, or not enough data."""
    if not comparisons or not all(comparison.decided for comparison in comparisons):
        return NOT_ENOUGH_DATA
    differences = [c.verdict for c in comparisons if not c.verdict.startswith("no difference")]
    return "; ".join(differences) if differences else "no difference found"
