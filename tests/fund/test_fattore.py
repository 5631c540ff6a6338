"""The Fattore Famiglia and the tariffs, worked by hand and checked to the cent (pure
functions: no database)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from portal.fund.fattore import (
    MAX_MEMBERS,
    FattoreError,
    Member,
    TariffError,
    Weights,
    compute,
    fee,
    isee_scale,
)

#: the profile of the worked examples (hundredths of a point)
PROFILE = Weights(w_child_0_2=15, w_child_3_5=10, w_child_6_13=10, w_child_14_17=5,
                  w_young_adult=5, w_single_parent=20, w_pregnancy=10)


@pytest.mark.parametrize(("n", "scale"), [(1, "1.00"), (2, "1.57"), (3, "2.04"), (4, "2.46"),
                                          (5, "2.85"), (6, "3.20"), (7, "3.55"), (15, "6.35")])
def test_isee_scale_by_number_of_adults(n, scale):
    """1.00, 1.57, 2.04, 2.46, 2.85 for 1 to 5 members, +0.35 for each further one."""
    assert isee_scale([Member(40)] * n)[0] == Decimal(scale)


@pytest.mark.parametrize(("children", "bonus"), [(2, "0"), (3, "0.20"), (4, "0.35"),
                                                 (5, "0.50"), (7, "0.50")])
def test_children_bonus(children, bonus):
    """+0.20, +0.35, +0.50 for 3, 4, 5 or more children (members under 18)."""
    members = [Member(40), Member(40)] + [Member(5)] * children
    base = isee_scale([Member(40)] * len(members))[0]
    assert isee_scale(members)[0] - base == Decimal(bonus)


def test_an_adult_of_eighteen_is_not_a_child():
    members = [Member(45), Member(18), Member(17), Member(12)]
    assert isee_scale(members)[0] == Decimal("2.46")  # two children: no bonus


def test_each_member_with_a_disability_adds_half_a_point():
    members = [Member(40, disability=True), Member(70, disability=True)]
    assert isee_scale(members)[0] == Decimal("1.57") + Decimal("1.00")


def test_single_adult_from_income_and_assets():
    """1 adult, income 20,000.00 €, assets 10,000.00 €: (20,000 + 2,000) / 1.00 = 22,000.00 €."""
    result = compute([Member(40)], income_cents=2_000_000, assets_cents=1_000_000)
    assert result.scale == Decimal("1.00")
    assert result.resources_cents == 2_200_000
    assert result.indicator_cents == 2_200_000


FAMILY_OF_FIVE = [Member(40), Member(38), Member(10), Member(6), Member(1)]


def test_family_of_five_without_comune_weights():
    """5 members (2.85) with 3 children (+0.20) = 3.05; income 30,000 €, assets 50,000 €:
    (30,000 + 10,000) / 3.05 = 13,114.754... → 13,114.75 €."""
    result = compute(FAMILY_OF_FIVE, income_cents=3_000_000, assets_cents=5_000_000)
    assert result.isee_scale == Decimal("3.05") and result.scale == Decimal("3.05")
    assert result.indicator_cents == 1_311_475


def test_family_of_five_with_the_comune_weights():
    """Same family, weights 0.15 (child 0–2) + 2 × 0.10 (children 6–13) = +0.35 → 3.40:
    40,000 / 3.40 = 11,764.705... → 11,764.71 € (rounded up from half a cent and more)."""
    result = compute(FAMILY_OF_FIVE, PROFILE, income_cents=3_000_000, assets_cents=5_000_000)
    assert result.weights_total == Decimal("0.35")
    assert result.scale == Decimal("3.40")
    assert result.indicator_cents == 1_176_471
    assert {s.code: (s.count, s.amount) for s in result.steps} == {
        "base": (5, Decimal("2.85")), "children": (3, Decimal("0.20")),
        "w_child_0_2": (1, Decimal("0.15")), "w_child_6_13": (2, Decimal("0.20"))}


def test_single_parent_expecting_from_a_declared_isee():
    """A pregnant mother of 30 with a child of 4, ISEE 9,000.00 €: ISEE scale 1.57; weights
    child 3–5 0.10 + single parent 0.20 + pregnancy 0.10 → 1.97; 9,000 × 1.57 / 1.97 =
    7,172.588... → 7,172.59 €."""
    result = compute([Member(30, pregnant=True), Member(4)], PROFILE, isee_cents=900_000)
    assert result.isee_scale == Decimal("1.57") and result.scale == Decimal("1.97")
    assert result.resources_cents is None
    assert result.indicator_cents == 717_259


def test_without_weights_the_fattore_of_an_isee_is_the_isee():
    result = compute(FAMILY_OF_FIVE, isee_cents=1_234_567)
    assert result.indicator_cents == 1_234_567


def test_large_family_with_a_disability():
    """7 members (3.55), 4 children (+0.35), one disability (+0.50) = 4.40; weights 14–17
    0.05, 6–13 2 × 0.10, 3–5 0.10, 18–25 0.05 = +0.40 → 4.80; income 45,000 €, assets
    120,000 €: (45,000 + 24,000) / 4.80 = 14,375.00 €."""
    members = [Member(45), Member(44), Member(22), Member(16), Member(12, disability=True),
               Member(8), Member(3)]
    result = compute(members, PROFILE, income_cents=4_500_000, assets_cents=12_000_000)
    assert result.isee_scale == Decimal("4.40") and result.scale == Decimal("4.80")
    assert result.indicator_cents == 1_437_500


def test_rounding_is_half_up_once_at_the_end():
    """5 cents / 2.00 = 2.5 cents → 3 (half up, not to even)."""
    result = compute([Member(20)], Weights(w_young_adult=100), income_cents=5, assets_cents=0)
    assert result.scale == Decimal("2.00")
    assert result.indicator_cents == 3


@pytest.mark.parametrize("kwargs", [
    {}, {"isee_cents": 1, "income_cents": 1}, {"income_cents": -1},
    {"isee_cents": -5},
])
def test_bad_resources_are_refused(kwargs):
    with pytest.raises(FattoreError):
        compute([Member(40)], **kwargs)


def test_members_are_bounded():
    with pytest.raises(FattoreError):
        compute([], isee_cents=1)
    with pytest.raises(FattoreError):
        compute([Member(40)] * (MAX_MEMBERS + 1), isee_cents=1)
    with pytest.raises(FattoreError):
        compute([Member(121)], isee_cents=1)


@given(st.lists(st.builds(Member, age=st.integers(0, 120), disability=st.booleans(),
                          pregnant=st.booleans()), min_size=1, max_size=MAX_MEMBERS),
       st.integers(0, 10**11), st.integers(0, 10**11))
def test_weights_never_raise_the_fattore(members, income, assets):
    """The Comune's weights only add to the scale: the Fattore never grows with them."""
    plain = compute(members, income_cents=income, assets_cents=assets)
    weighted = compute(members, PROFILE, income_cents=income, assets_cents=assets)
    assert weighted.scale >= plain.scale
    assert weighted.indicator_cents <= plain.indicator_cents


# --------------------------------------------------------------------------- tariffs

NIDO = {"min_fee": 10_000, "max_fee": 50_000, "low": 500_000, "high": 3_000_000}
MENSA = {"min_fee": 150, "max_fee": 500, "low": 400_000, "high": 2_500_000}


def test_nido_for_the_family_of_five():
    """Nido from 100 € to 500 € a month between 5,000 € and 30,000 € of Fattore: at
    13,114.75 € the share is 8,114.75 / 25,000 = 0.32459 → 100 + 400 × 0.32459 = 229.836
    → 229.84 €."""
    assert fee(1_311_475, **NIDO) == 22_984


def test_mensa_for_the_single_parent():
    """Mensa from 1.50 € to 5.00 € between 4,000 € and 25,000 €: at 7,172.59 € the share is
    3,172.59 / 21,000 = 0.151076 → 1.50 + 3.50 × 0.151076 = 2.0288 → 2.03 €."""
    assert fee(717_259, **MENSA) == 203


@pytest.mark.parametrize(("indicator", "expected"), [
    (0, 10_000), (500_000, 10_000), (500_001, 10_000), (1_750_000, 30_000),
    (2_999_999, 50_000), (3_000_000, 50_000), (10**12, 50_000)])
def test_fee_at_and_beyond_the_thresholds(indicator, expected):
    """The minimum up to the low threshold, the maximum from the high one, linear between
    (half a cent rounds up: 500,001 → 100.000016 € → 100.00 €)."""
    assert fee(indicator, **NIDO) == expected


@given(st.integers(0, 10**10), st.integers(0, 10**10))
def test_fee_never_falls_as_the_fattore_grows(a, b):
    low, high = sorted((a, b))
    assert fee(low, **NIDO) <= fee(high, **NIDO)
    assert NIDO["min_fee"] <= fee(low, **NIDO) <= NIDO["max_fee"]


@pytest.mark.parametrize("bad", [
    {"min_fee": -1}, {"max_fee": 5_000}, {"low": -1}, {"high": 500_000}])
def test_bad_tariffs_are_refused(bad):
    with pytest.raises(TariffError):
        fee(1, **{**NIDO, **bad})
