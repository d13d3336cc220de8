from linecrm.domain import stats


def test_rates_are_fractions_of_the_friends_reached() -> None:
    counts = {stats.SENT: 200, stats.UNIQUE_CLICKS: 50, stats.CONVERSIONS: 10, stats.BLOCKS: 4}
    assert stats.ctr(counts) == 0.25
    assert stats.cvr(counts) == 0.05
    assert stats.block_rate(counts) == 0.02


def test_a_rate_with_nothing_sent_is_none_not_zero() -> None:
    assert stats.ctr({}) is None
    assert stats.cvr({stats.CONVERSIONS: 3}) is None
    assert stats.rate(0, 5) == 0.0
