"""The Fattore Famiglia Comunale and the tariffs that follow it: pure functions, no database.

The formula (the public page /fondo/fattore-famiglia says the same in plain Italian):

1. **Scala di equivalenza ISEE** of the household: 1.00, 1.57, 2.04, 2.46, 2.85 for 1 to 5
   members, +0.35 for each member beyond the fifth; +0.20, +0.35, +0.50 when there are 3, 4,
   5 or more children (members under 18); +0.50 for each member with a disability.
2. **Pesi comunali**: the Comune's profile in force on the day adds its family weights — for each
   child by age band (0–2, 3–5, 6–13, 14–17 years), for each adult aged 18–25, once for a
   single parent (one adult, at least one child), for each pregnancy. Weights are written in
   hundredths (20 = 0.20), so the scale is exact: no rounding happens on it.
3. **Indicatore** (the Fattore Famiglia, in euro):
   - from income and assets: ``(reddito + 20% del patrimonio) / scala``;
   - from a declared ISEE: ``ISEE × scala ISEE / scala`` — the ISEE already divides by the
     ISEE scale; multiplying back and dividing by the Comune's scale applies its weights
     (with no weights the Fattore equals the ISEE).
   Computed exactly with Decimal and rounded once, at the end, to the cent, half up
   (0.005 € → 0.01 €).
4. **Tariffa** of a service with minimum and maximum fee and two thresholds of the indicator:
   up to the lower threshold the minimum, from the upper threshold the maximum, in between
   ``minimo + (massimo − minimo) × (Fattore − soglia bassa) / (soglia alta − soglia bassa)``,
   rounded once to the cent, half up.

All money is integer cents in and out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from flask_babel import lazy_gettext as _l

#: the ISEE scale for 1..5 members; each further member adds EXTRA_MEMBER
BASE_SCALE = (Decimal("1.00"), Decimal("1.57"), Decimal("2.04"), Decimal("2.46"),
              Decimal("2.85"))
EXTRA_MEMBER = Decimal("0.35")
#: children -> increase (3, 4, 5 or more)
CHILDREN_BONUS = {3: Decimal("0.20"), 4: Decimal("0.35"), 5: Decimal("0.50")}
DISABILITY_BONUS = Decimal("0.50")
#: share of the assets counted with the income
ASSETS_SHARE = Decimal("0.20")
#: the age from which a member counts as an adult
ADULT_AGE = 18
#: members of a household the portal computes for (a bigger number is a typo or a probe)
MAX_MEMBERS = 15
MAX_AGE = 120
HUNDRED = Decimal(100)
CENT = Decimal("1")

#: the Comune's weights, in hundredths of a point, with the Italian label of each
WEIGHT_FIELDS = (
    "w_child_0_2", "w_child_3_5", "w_child_6_13", "w_child_14_17", "w_young_adult",
    "w_single_parent", "w_pregnancy",
)


@dataclass(frozen=True)
class Member:
    age: int
    disability: bool = False
    pregnant: bool = False

    @property
    def child(self) -> bool:
        return self.age < ADULT_AGE


@dataclass(frozen=True)
class Weights:
    """A Comune's family weights, in hundredths of a point (20 = +0.20 on the scale)."""

    w_child_0_2: int = 0
    w_child_3_5: int = 0
    w_child_6_13: int = 0
    w_child_14_17: int = 0
    w_young_adult: int = 0
    w_single_parent: int = 0
    w_pregnancy: int = 0

    @classmethod
    def of(cls, obj) -> Weights:
        """The weights of a profile row (or anything with the same attributes)."""
        return cls(**{name: int(getattr(obj, name) or 0) for name in WEIGHT_FIELDS})


#: a Comune without a profile uses the ISEE scale alone
DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Step:
    """One line of the computation: what, how many times, how much in total."""

    code: str
    count: int
    amount: Decimal


@dataclass(frozen=True)
class Result:
    members: int
    children: int
    isee_scale: Decimal
    weights_total: Decimal
    scale: Decimal
    #: the resources counted (income + 20% of assets), in cents; None from a declared ISEE
    resources_cents: int | None
    #: the declared ISEE in cents, when given
    isee_cents: int | None
    #: the Fattore Famiglia in cents
    indicator_cents: int
    steps: tuple[Step, ...] = field(default_factory=tuple)


class FattoreError(ValueError):
    """Input the formula cannot take; `field` names it."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def round_cents(value: Decimal) -> int:
    """Cents, rounded half up (the one rounding of the module)."""
    return int(value.quantize(CENT, rounding=ROUND_HALF_UP))


def isee_scale(members: Sequence[Member]) -> tuple[Decimal, list[Step]]:
    """The ISEE equivalence scale of `members`, and its steps."""
    n = len(members)
    if n < 1:
        raise FattoreError(_l("Indica almeno un componente del nucleo."), "members")
    if n > MAX_MEMBERS:
        raise FattoreError(_l("Al massimo %(n)d componenti.", n=MAX_MEMBERS), "members")
    base = BASE_SCALE[min(n, 5) - 1]
    steps = [Step("base", min(n, 5), base)]
    if n > 5:
        steps.append(Step("extra_member", n - 5, EXTRA_MEMBER * (n - 5)))
    children = sum(1 for m in members if m.child)
    if children >= 3:
        steps.append(Step("children", children, CHILDREN_BONUS[min(children, 5)]))
    disabled = sum(1 for m in members if m.disability)
    if disabled:
        steps.append(Step("disability", disabled, DISABILITY_BONUS * disabled))
    return sum((s.amount for s in steps), Decimal(0)), steps


def _band(age: int) -> str | None:
    if age <= 2:
        return "w_child_0_2"
    if age <= 5:
        return "w_child_3_5"
    if age <= 13:
        return "w_child_6_13"
    if age < ADULT_AGE:
        return "w_child_14_17"
    if age <= 25:
        return "w_young_adult"
    return None


def comune_weights(members: Sequence[Member], weights: Weights) -> list[Step]:
    """The steps the Comune's weights add (only those that apply and are not zero)."""
    counts: dict[str, int] = dict.fromkeys(WEIGHT_FIELDS, 0)
    for member in members:
        band = _band(member.age)
        if band:
            counts[band] += 1
        if member.pregnant:
            counts["w_pregnancy"] += 1
    adults = sum(1 for m in members if not m.child)
    if adults == 1 and any(m.child for m in members):
        counts["w_single_parent"] = 1
    steps = []
    for name in WEIGHT_FIELDS:
        per = getattr(weights, name)
        if counts[name] and per:
            steps.append(Step(name, counts[name], Decimal(per * counts[name]) / HUNDRED))
    return steps


def _check_members(members: Iterable[Member]) -> list[Member]:
    members = list(members)
    for m in members:
        if not isinstance(m.age, int) or isinstance(m.age, bool) or not 0 <= m.age <= MAX_AGE:
            raise FattoreError(_l("L'età va da 0 a %(n)d anni.", n=MAX_AGE), "members")
    return members


def compute(members: Iterable[Member], weights: Weights = DEFAULT_WEIGHTS, *,
            income_cents: int | None = None, assets_cents: int | None = None,
            isee_cents: int | None = None) -> Result:
    """The Fattore Famiglia of a household: from income and assets, or from a declared ISEE
    (exactly one of the two ways)."""
    members = _check_members(members)
    by_resources = income_cents is not None or assets_cents is not None
    if by_resources == (isee_cents is not None):
        raise FattoreError(_l("Indica reddito e patrimonio oppure l'ISEE (uno dei due)."),
                           "isee")
    for name, value in (("income", income_cents), ("assets", assets_cents),
                        ("isee", isee_cents)):
        if value is not None and value < 0:
            raise FattoreError(_l("Gli importi non possono essere negativi."), name)
    base, steps = isee_scale(members)
    extra = comune_weights(members, weights)
    weights_total = sum((s.amount for s in extra), Decimal(0))
    scale = base + weights_total
    if by_resources:
        resources = Decimal(income_cents or 0) + Decimal(assets_cents or 0) * ASSETS_SHARE
        indicator = round_cents(resources / scale)
        resources_cents = round_cents(resources)
    else:
        indicator = round_cents(Decimal(isee_cents) * base / scale)
        resources_cents = None
    return Result(
        members=len(members), children=sum(1 for m in members if m.child), isee_scale=base,
        weights_total=weights_total, scale=scale, resources_cents=resources_cents,
        isee_cents=isee_cents, indicator_cents=indicator, steps=tuple(steps + extra))


# --------------------------------------------------------------------------- tariffs


class TariffError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def check_tariff(min_fee: int, max_fee: int, low: int, high: int) -> None:
    """Refuse a tariff the rule cannot apply (naming the field)."""
    if min_fee < 0:
        raise TariffError(_l("La tariffa minima non può essere negativa."), "min_fee")
    if max_fee < min_fee:
        raise TariffError(_l("La tariffa massima non può essere minore della minima."), "max_fee")
    if low < 0:
        raise TariffError(_l("La soglia non può essere negativa."), "threshold_low")
    if high <= low:
        raise TariffError(_l("La soglia alta deve superare la soglia bassa."), "threshold_high")


def fee(indicator_cents: int, *, min_fee: int, max_fee: int, low: int, high: int) -> int:
    """The fee in cents for a Fattore Famiglia of `indicator_cents`: the minimum up to `low`,
    the maximum from `high`, linear in between, rounded half up to the cent."""
    check_tariff(min_fee, max_fee, low, high)
    if indicator_cents <= low:
        return min_fee
    if indicator_cents >= high:
        return max_fee
    share = Decimal(indicator_cents - low) / Decimal(high - low)
    return round_cents(Decimal(min_fee) + Decimal(max_fee - min_fee) * share)
