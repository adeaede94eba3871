"""Names and figures read from an article's original text, the same in English and Spanish."""

from __future__ import annotations

from monitor.analysis import entities


def test_figures_are_one_value_in_both_languages() -> None:
    en = entities.numbers("Mexico agrees to send 10,000 troops to the border to delay US tariffs", "en")
    es = entities.numbers("México enviará 10 mil elementos de la Guardia Nacional a la frontera", "es")
    assert en == es == {"10000"}
    assert entities.numbers("México entrega a 29 narcotraficantes; 2,5 millones de dosis", "es") == {"29", "2500000"}
    assert entities.numbers("2.5 million doses and 1.200 km", "en") >= {"2500000"}
    assert entities.numbers("seis muertos y veintinueve detenidos", "es") == {"6", "29"}


def test_years_and_days_of_the_month_are_not_figures() -> None:
    assert entities.numbers("On Nov. 3, 2025, 26 prisoners were sent", "en") == {"26"}
    assert entities.numbers("El 3 de noviembre de 2025 se enviaron 26 reos", "es") == {"26"}
    assert entities.numbers("3 November: one man, 0 injured", "en") == frozenset()


def test_names_are_capitalised_words_spans_and_acronyms() -> None:
    found = entities.read(
        "México entrega a EU a 29 narcotraficantes",
        "El Gobierno entregó a Rafael Caro Quintero y a miembros del Cártel de Sinaloa y del CJNG.",
        "es",
    ).names
    assert {"caro quintero", "rafael caro quintero", "cartel de sinaloa", "sinaloa", "cjng", "eu"} <= found
    assert "gobierno" not in found and "el" not in found  # an office and an article are not names
    english = entities.read("", "Gunmen killed six people in Culiacán. Authorities blamed the Sinaloa Cartel.", "en").names
    assert {"culiacan", "sinaloa cartel"} <= english
    assert "gunmen" not in english and "authorities" not in english  # sentence-initial ordinary words


def test_a_title_case_headline_gives_only_its_acronyms() -> None:
    found = entities.read("Mexico Agrees To Send Troops To Border After DEA Request", "", "en").names
    assert found == {"dea"}
