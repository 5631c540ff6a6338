"""The public Fattore Famiglia page: the formula explained, a calculator without an account
and without JavaScript, the Comune's weights and tariffs, every bad input a 422."""

from __future__ import annotations

from datetime import date

import pytest

from portal.fund.support_models import FattoreProfile, Tariff
from tests.conftest import page_text

URL = "/fondo/fattore-famiglia"


@pytest.fixture
def seveso(db, factory):
    comune = factory.comune("Seveso")
    db.session.add_all([
        FattoreProfile(comune_id=comune.id, valid_from=date(2020, 1, 1),
                       decision="Delibera G.C. n. 1 del 2020", w_child_0_2=50),
        FattoreProfile(comune_id=comune.id, valid_from=date(2025, 1, 1),
                       decision="Delibera G.C. n. 45 del 3 marzo 2025", w_child_0_2=15,
                       w_child_3_5=10, w_child_6_13=10, w_child_14_17=5, w_young_adult=5,
                       w_single_parent=20, w_pregnancy=10),
        FattoreProfile(comune_id=comune.id, valid_from=date(2099, 1, 1),
                       decision="Delibera futura", w_child_0_2=300),
        Tariff(comune_id=comune.id, name="Asilo nido", unit="al mese", min_fee_cents=10_000,
               max_fee_cents=50_000, threshold_low_cents=500_000,
               threshold_high_cents=3_000_000, position=1),
        Tariff(comune_id=comune.id, name="Mensa scolastica", unit="a pasto", min_fee_cents=150,
               max_fee_cents=500, threshold_low_cents=400_000, threshold_high_cents=2_500_000,
               position=2),
    ])
    db.session.commit()
    return comune


FAMILY = {"calcola": "1", "age_1": "40", "age_2": "38", "age_3": "10", "age_4": "6",
          "age_5": "1", "income": "30.000", "assets": "50.000"}


def test_the_page_explains_the_formula_to_anyone(client, seveso):
    response = client.get(URL)
    assert response.status_code == 200
    text = page_text(response)
    assert "(reddito + 20% del patrimonio) ÷ scala" in text
    assert "1,57 per due" in text and "0,50 per ogni componente con disabilità" in text
    assert "minima + (massima − minima)" in text


def test_a_comune_shows_the_profile_in_force_and_its_tariffs(client, seveso):
    text = page_text(client.get(URL, query_string={"comune": seveso.slug}))
    assert "Delibera G.C. n. 45 del 3 marzo 2025" in text  # not the old one, not the future
    assert "Delibera futura" not in text
    assert "Asilo nido" in text and "Mensa scolastica" in text


def test_the_calculator_computes_with_the_comune_weights_and_fees(client, seveso):
    """The worked example of test_fattore: scale 3.40, Fattore 11,764.71 €; the nido at that
    Fattore: 100 + 400 × (11,764.71 − 5,000) / 25,000 = 208.24 €."""
    response = client.get(URL, query_string={**FAMILY, "comune": seveso.slug})
    assert response.status_code == 200
    text = page_text(response)
    assert "3,40" in text
    assert "11.764,71 €" in text
    assert "208,24 €" in text


def test_without_a_comune_only_the_isee_scale(client, seveso):
    text = page_text(client.get(URL, query_string=FAMILY))
    assert "3,05" in text and "13.114,75 €" in text


def test_htmx_gets_the_calculator_alone(client, seveso):
    response = client.htmx(URL, query_string={**FAMILY, "comune": seveso.slug})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="calcolatore">') and "<html" not in body
    assert response.headers["Vary"].count("HX-Request") >= 1


def test_more_rows_keep_what_was_typed(client, seveso):
    response = client.get(URL, query_string={"age_1": "40", "righe": "8"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="age_8"' in body and 'name="age_9"' not in body
    assert 'value="40"' in body


@pytest.mark.parametrize(("query", "message"), [
    ({"calcola": "1", "income": "100"}, "Indica almeno un componente del nucleo."),
    ({"calcola": "1", "age_1": "200", "income": "1"}, "L'età va da 0 a 120 anni."),
    ({"calcola": "1", "age_1": "-3", "income": "1"}, "L'età va da 0 a 120 anni."),
    ({"calcola": "1", "age_1": "４０", "income": "1"}, "Inserisci un numero intero."),
    ({"calcola": "1", "age_1": "40"}, "Indica il reddito (e il patrimonio) oppure l'ISEE."),
    ({"calcola": "1", "age_1": "40", "income": "1", "isee": "2"}, "non entrambi"),
    ({"calcola": "1", "age_1": "40", "assets": "100"}, "Indica anche il reddito"),
    ({"calcola": "1", "age_1": "40", "income": "1e9"}, "Scrivi un importo in euro"),
    ({"calcola": "1", "age_1": "40", "income": "-5"}, "non può essere negativo"),
    ({"calcola": "1", "age_1": "40", "income": "99999999999"}, "troppo alto"),
    ({"calcola": "1", "age_1": "40", "income": "NaN"}, "Scrivi un importo in euro"),
    ({"calcola": "1", "disability_3": "y", "age_1": "40", "income": "1"},
     "Indica l'età di questo componente."),
])
def test_bad_input_is_a_422_with_an_italian_message(client, seveso, query, message):
    response = client.get(URL, query_string={**query, "comune": seveso.slug})
    assert response.status_code == 422
    assert message in page_text(response)


def test_a_nul_byte_is_refused_before_the_view(client, seveso):
    response = client.get(URL, query_string={"calcola": "1", "age_1": "4\x000", "income": "1"})
    assert response.status_code == 400


@pytest.mark.parametrize("query", [{"comune": "nessuno"}, {"comune": "x" * 500},
                                   {"righe": "99"}, {"righe": "٣"}, {"righe": "-1"}])
def test_bad_links_are_404(client, seveso, query):
    assert client.get(URL, query_string=query).status_code == 404


def test_rows_beyond_the_fifteenth_are_ignored(client, seveso):
    """A member typed in a row the form does not have (age_16, age_99999) is not counted."""
    response = client.get(URL, query_string={"calcola": "1", "age_1": "40", "age_16": "5",
                                             "age_99999": "5", "isee": "10.000"})
    assert response.status_code == 200
    assert "10.000,00 €" in page_text(response)


def test_the_page_reads_in_english(client, seveso):
    from portal.i18n import LANG_COOKIE

    client.set_cookie(LANG_COOKIE, "en")
    response = client.get(URL, query_string={**FAMILY, "comune": seveso.slug})
    text = page_text(response)
    assert response.status_code == 200
    assert "(income + 20% of assets) ÷ scale" in text
    assert "Compute your Fattore Famiglia" in text and "Your fee" in text
