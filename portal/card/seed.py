"""Demo data of the Family Card: cards for the demo households, thirty merchants across the
seven Comuni with their offers, and a few months of purchases posted through the ledger (so
the funds' accounts stay sound: `flask fund check` passes after `flask seed-demo`).

The card seeds with its own random sequence, so that the rest of the demo stays the same.
"""

from __future__ import annotations

import random
from datetime import timedelta

from stdnum import luhn

from portal.accounts.models import HouseholdStatus
from portal.card import services
from portal.card.models import Merchant, MerchantStatus, Offer
from portal.extensions import db

SHOPS = [
    ("Panetteria", "Alimentari"), ("Macelleria", "Alimentari"), ("Frutta e verdura", "Alimentari"),
    ("Farmacia", "Farmacia e salute"), ("Libreria", "Libri e cartoleria"),
    ("Cartoleria", "Libri e cartoleria"), ("Abbigliamento bimbi", "Abbigliamento"),
    ("Calzature", "Abbigliamento"), ("Articoli sportivi", "Sport e tempo libero"),
    ("Piscina", "Sport e tempo libero"), ("Ferramenta", "Casa e ferramenta"),
    ("Pizzeria", "Ristorazione"), ("Gelateria", "Ristorazione"),
    ("Parrucchiere", "Servizi alla persona"), ("Giocattoli", "Infanzia e giocattoli"),
]
NAMES = ["Il Chicco", "Da Mario", "La Bottega", "Sorriso", "Centrale", "Brianza", "Il Girasole",
         "San Pietro", "Arcobaleno", "Il Ponte", "La Corte", "Del Borgo"]
#: (discount, fund share) in basis points: from the plain offer to the "Sostenitore"
OFFERS = [(300, 90), (500, 100), (800, 120), (1000, 150), (1500, 200), (2000, 200)]


def vat_number(n: int) -> str:
    """A valid partita IVA: a serial, the office code of Milano (015) and the Luhn digit."""
    body = f"{1000000 + n:07d}015"
    return body + luhn.calc_check_digit(body)


def seed(ctx) -> None:
    rng = random.Random(21)
    start = ctx.now - timedelta(days=400)
    comuni = sorted(ctx.comuni.values(), key=lambda c: c.name)
    merchants: list[Merchant] = []
    chicco = next((m for m in ctx.merchants if m.name == "Panificio Il Chicco"), None)
    if chicco is not None:  # the till of esercente@example.org
        chicco.status = MerchantStatus.APPROVED
        chicco.vat_number = vat_number(0)
        chicco.contact_email = "panificio.chicco@example.org"
        chicco.description = "Pane, focacce e dolci fatti ogni mattina."
        chicco.applied_at, chicco.decided_at = start, start + timedelta(days=3)
        merchants.append(chicco)
    n = 1
    while len(merchants) < 30:
        comune = comuni[n % len(comuni)]
        kind, category = SHOPS[n % len(SHOPS)]
        name = f"{kind} {NAMES[(n * 5) % len(NAMES)]}"
        merchant = Merchant(name=name, comune_id=comune.id, category=category,
                            address=f"Via {rng.choice(['Roma', 'Milano', 'Garibaldi', 'Dante'])} "
                                    f"{rng.randint(1, 90)}",
                            vat_number=vat_number(n), contact_email=f"negozio{n}@example.org",
                            status=MerchantStatus.APPROVED, applied_at=start,
                            decided_at=start + timedelta(days=2))
        db.session.add(merchant)
        merchants.append(merchant)
        n += 1
    db.session.flush()
    for i, merchant in enumerate(merchants):
        discount, share = OFFERS[0 if i == 0 else rng.randrange(len(OFFERS))]
        if merchant is chicco:
            discount, share = 1000, 150
        db.session.add(Offer(merchant_id=merchant.id, title="Sconto per le famiglie",
                             conditions="Mostrando la Family Card prima di pagare.",
                             discount_bp=discount, fund_share_bp=share,
                             valid_from=start.date()))
    db.session.flush()

    cards = []
    for household in ctx.households:
        if household.status != HouseholdStatus.VERIFIED:
            continue
        if services.young_members(household, 25, ctx.now.year) < 1:
            continue
        cards.append((household, services.issue_card(household)))
    by_comune: dict[int, list[Merchant]] = {}
    for merchant in merchants:
        by_comune.setdefault(merchant.comune_id, []).append(merchant)
    receipt = 0
    for household, card in cards:
        shops = by_comune.get(household.comune_id) or merchants
        for _ in range(rng.randint(3, 9)):
            receipt += 1
            at = ctx.now - timedelta(days=rng.randint(1, 120), minutes=rng.randint(0, 600))
            merchant = rng.choice(shops)
            services.record_purchase(None, merchant, card.number, rng.randint(500, 12_000),
                                     f"D{receipt:05d}", at=at)
    db.session.flush()
