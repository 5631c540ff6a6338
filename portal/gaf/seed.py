"""Demo data of the GAF: a group in four Comuni, with suppliers of the Brianza (bread,
vegetables, cheese, detergents) and their products, a settled round whose share is posted
through the fund's ledger, and an open round. The demo family (famiglia@example.org, the
Brambilla household of Seveso) coordinates the Seveso group. Deterministic: the context's
random generator; every order goes through the services, as in production.
"""

from __future__ import annotations

from datetime import timedelta

from portal.accounts.models import HouseholdStatus
from portal.extensions import db
from portal.gaf import services
from portal.gaf.models import GafGroup

COMUNI = ("seveso", "giussano", "carate-brianza", "brugherio", "besana-in-brianza")

POINTS = {
    "seveso": ("Oratorio San Pietro, via Sant'Ambrogio 2", "Sabato 9:00–12:00"),
    "giussano": ("Scuola primaria Don Bosco, cortile", "Venerdì 16:30–18:30"),
    "carate-brianza": ("Centro civico, piazza Cesare Battisti", "Sabato 10:00–12:30"),
    "brugherio": ("Parrocchia San Bartolomeo, salone", "Giovedì 17:00–19:00"),
    "besana-in-brianza": ("Biblioteca civica, ingresso laterale", "Sabato 9:30–12:00"),
}

SUPPLIERS = [
    ("Forno di Brianza", "Seveso",
     "Pane con farine di grani coltivati in Lombardia, lievito madre, prezzi fissi per "
     "tutto l'anno; l'invenduto va alla mensa solidale della parrocchia.",
     [("Pane integrale", "pagnotta 500 g", 320, 1, 1, 10),
      ("Michette", "sacchetto da 6", 290, 1, 1, 10),
      ("Farina di grano tenero tipo 2", "kg", 240, 1, 1, 10)]),
    ("Cascina del Lambro", "Carate Brianza",
     "Verdura di stagione raccolta il giorno prima della consegna, coltivata senza "
     "diserbanti; cassette a rendere.",
     [("Cassetta di verdura di stagione", "cassetta 5 kg", 1450, 1, 1, 3),
      ("Patate", "kg", 180, 2, 2, 20),
      ("Mele della Brianza", "kg", 260, 2, 1, 15)]),
    ("Caseificio Valle del Seveso", "Giussano",
     "Latte di stalle entro 20 km, formaggi a latte crudo, visite in caseificio per le "
     "famiglie del gruppo una volta l'anno.",
     [("Taleggio", "etto", 210, 2, 1, 20), ("Yogurt intero", "vasetto 500 g", 250, 1, 1, 8),
      ("Burro", "panetto 250 g", 390, 1, 1, 4)]),
    ("Cooperativa sociale Sfuso Brianza", "Brugherio",
     "Detersivi ecologici alla spina in flaconi a rendere, prodotti da una cooperativa che "
     "dà lavoro a persone svantaggiate.",
     [("Detersivo per piatti", "litro", 280, 1, 1, 5),
      ("Detersivo per lavatrice", "litro", 350, 2, 1, 10),
      ("Sapone di Marsiglia", "pezzo", 190, 1, 1, 6)]),
]


def _group(ctx, slug: str, comune, coordinator):
    point, hours = POINTS[slug]
    group = GafGroup(comune_id=comune.id, name=f"GAF {comune.name}",
                     description="Famiglie che ordinano insieme dai produttori della Brianza "
                                 "e ritirano la spesa al punto di raccolta.",
                     coordinator_household_id=coordinator.id, collection_point=point,
                     opening_times=hours, fund_share_bp=200)
    db.session.add(group)
    db.session.flush()
    return group


def _order(ctx, round_, households, products, at) -> None:
    rng = ctx.rng
    for household in households:
        for product in rng.sample(products, rng.randint(2, 5)):
            quantity = product.min_qty + product.multiple * rng.randint(0, 2)
            services.set_quantity(round_.id, household.id, product.id,
                                  min(quantity, product.max_qty), now=at)


def seed(ctx) -> None:
    rng, now = ctx.rng, ctx.now
    family = ctx.users.get("famiglia@example.org")
    chosen = [s for s in COMUNI if s in ctx.comuni][:4]
    for slug in chosen:
        comune = ctx.comuni[slug]
        households = [h for h in ctx.households if h.comune_id == comune.id
                      and h.status == HouseholdStatus.VERIFIED]
        if family is not None and family.household is not None \
                and family.household.comune_id == comune.id:
            coordinator = family.household
        elif households:
            coordinator = households[0]
        else:
            continue
        group = _group(ctx, slug, comune, coordinator)
        members = [coordinator] + [h for h in households if h.id != coordinator.id]
        for household in members:
            services.join(group, household, rng.choice([8_000, 10_000, 12_000, 15_000, 20_000]))
        products = []
        for name, town, patto, items in SUPPLIERS:
            supplier = services.save_supplier(group, None, name=name, town=town, patto=patto)
            for p_name, unit, price, low, step, high in items:
                products.append(services.save_product(
                    supplier, None, name=p_name, unit=unit, price_cents=price, min_qty=low,
                    multiple=step, max_qty=high))
        # last month's round, settled: its share is in the fund
        opened = now - timedelta(days=40)
        past = services.create_round(group, opened, opened + timedelta(days=5),
                                     (opened + timedelta(days=8)).date())
        _order(ctx, past, members, products, opened + timedelta(days=1))
        services.close(past, now=opened + timedelta(days=5))
        for order in services.bills(past):
            services.tick(past, order, True, now=opened + timedelta(days=8))
        services.deliver(past, now=opened + timedelta(days=8))
        services.settle(past, now=opened + timedelta(days=9))
        # this week's round, open
        opened = now - timedelta(days=2)
        current = services.create_round(group, opened, now + timedelta(days=5),
                                        (now + timedelta(days=8)).date())
        _order(ctx, current, members[1:3], products, opened + timedelta(hours=3))
    db.session.flush()
