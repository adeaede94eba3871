"""The digest's own words in English and Spanish: section titles, labels, number and date formats.

Feed text is never translated here; this is only the text surrounding it. Both languages carry the
same keys (a test checks), so a Spanish digest never shows a half-translated label.
"""

from __future__ import annotations

from datetime import date

LANGUAGES = ("en", "es")

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "US–MX cartel debate",
        "subtitle": "Daily digest · {date}",
        "preheader": "{stories} stories, {articles} articles: how the US and Mexican press covered the debate.",
        "subject": "US–MX cartel debate — {day}: {stories} stories, {articles} articles",
        "subject_lead": "Lead: {headline}",
        "numbers": "The day in numbers",
        "articles_from": "{articles} articles from {outlets} outlets",
        "prev_avg": "7-day average: {avg} a day",
        "change": "{sign}{pct}% against the 7-day average",
        "change_new": "none in the previous 7 days",
        "stories_line": "{stories} stories, {shared} covered by both presses.",
        "top_stories": "Top stories",
        "top_stories_intro": "Ranked by coverage across both countries. Each story is titled by its most central headline; originals first, translations beneath.",
        "story_meta": "{articles} articles from {outlets} outlets",
        "more_headlines": "and {n} more",
        "no_side": "No coverage from this side.",
        "rough": "rough translation",
        "translation": "translation",
        "machine_translation": "machine translation",
        "keywords": "Keywords",
        "frames": "Frames",
        "why_frame": "Why “{frame}”",
        "no_frame": "No frame detected.",
        "framing": "How each press framed the debate",
        "framing_intro": "Share of each press's relevant articles by their main frame.",
        "differences": "Biggest differences",
        "difference_line": "{frame}: {a_press} {a_share} vs {b_press} {b_share} ({diff} points)",
        "shift": "Change against the previous 7 days",
        "shift_line": "{frame}, {press}: {before} → {now} ({sign}{diff} points)",
        "no_shift": "No frame moved by more than {threshold} points.",
        "words": "Words each side used that the other did not",
        "word_counts": "{count} vs {other}",
        "words_intro": "Distinctive words, English / Spanish, with their z-score (log-odds with an informative prior; * significant at 5 %) and how often each side used them.",
        "words_none": "Not enough text today to compare word use.",
        "blindspots": "Blindspots",
        "blindspots_intro": "Stories only one country's press covered.",
        "blindspot_line": "Only the {press}: {articles} articles from {outlets}",
        "blindspots_none": "None today: every story with {min} or more articles was covered on both sides.",
        "lead_lag": "Who covered shared stories first",
        "lead_lag_summary": "{press} first on {n} of {total} shared stories.",
        "lead_line": "{press} first, {lead} ahead",
        "same_time": "both presses within the same minute",
        "footer": "Sources and settings",
        "failing": "Failing feeds",
        "gone": "Feeds gone",
        "quiet": "Quiet feeds (no new article for 48 hours)",
        "feeds_ok": "All feeds answered and published in the last 48 hours.",
        "and_more": "and {n} more",
        "engine": "Translation",
        "engine_use": "{engine} ({model}): {articles} articles",
        "failures": "{n} failures in a row",
        "last_article": "last new article {date}",
        "no_article": "no article yet",
        "engine_none": "Translation: none of these articles has been translated yet.",
        "subscription": "Edit [digest] recipients in your monitor config to change who receives this.",
        "generated": "Generated {when} by us-mx-news-monitor.",
        "empty": "No article about the debate was published on {date} by the monitored outlets.",
        "thin": "A thin day: only {articles} relevant articles. Sections without data are left out.",
        "minutes": "{n} min",
        "hours": "{h} h",
        "hours_minutes": "{h} h {m} min",
        "days_hours": "{d} d {h} h",
        "points": "points",
        "open": "open",
    },
    "es": {
        "title": "Debate EE. UU.–México sobre los cárteles",
        "subtitle": "Resumen diario · {date}",
        "preheader": "{stories} historias, {articles} artículos: cómo cubrieron el debate la prensa de EE. UU. y la de México.",
        "subject": "Debate EE. UU.–México sobre los cárteles — {day}: {stories} historias, {articles} artículos",
        "subject_lead": "Principal: {headline}",
        "numbers": "El día en cifras",
        "articles_from": "{articles} artículos de {outlets} medios",
        "prev_avg": "Promedio de 7 días: {avg} al día",
        "change": "{sign}{pct} % frente al promedio de 7 días",
        "change_new": "ninguno en los 7 días anteriores",
        "stories_line": "{stories} historias, {shared} cubiertas por ambas prensas.",
        "top_stories": "Historias principales",
        "top_stories_intro": "Ordenadas por cobertura en ambos países. Cada historia lleva el titular más representativo; primero el original, debajo la traducción.",
        "story_meta": "{articles} artículos de {outlets} medios",
        "more_headlines": "y {n} más",
        "no_side": "Sin cobertura de este lado.",
        "rough": "traducción aproximada",
        "translation": "traducción",
        "machine_translation": "traducción automática",
        "keywords": "Palabras clave",
        "frames": "Encuadres",
        "why_frame": "Por qué «{frame}»",
        "no_frame": "No se detectó ningún encuadre.",
        "framing": "Cómo encuadró el debate cada prensa",
        "framing_intro": "Proporción de los artículos relevantes de cada prensa según su encuadre principal.",
        "differences": "Mayores diferencias",
        "difference_line": "{frame}: {a_press} {a_share} frente a {b_press} {b_share} ({diff} puntos)",
        "shift": "Cambio frente a los 7 días anteriores",
        "shift_line": "{frame}, {press}: {before} → {now} ({sign}{diff} puntos)",
        "no_shift": "Ningún encuadre cambió más de {threshold} puntos.",
        "words": "Palabras que usó un lado y no el otro",
        "word_counts": "{count} frente a {other}",
        "words_intro": "Palabras distintivas, inglés / español, con su puntuación z (log-odds con prior informativo; * significativa al 5 %) y cuántas veces las usó cada lado.",
        "words_none": "Hoy no hay texto suficiente para comparar el vocabulario.",
        "blindspots": "Puntos ciegos",
        "blindspots_intro": "Historias que solo cubrió la prensa de un país.",
        "blindspot_line": "Solo la {press}: {articles} artículos de {outlets}",
        "blindspots_none": "Ninguno hoy: toda historia con {min} artículos o más se cubrió en ambos lados.",
        "lead_lag": "Quién cubrió primero las historias compartidas",
        "lead_lag_summary": "La {press} fue primera en {n} de {total} historias compartidas.",
        "lead_line": "Primero la {press}, con {lead} de ventaja",
        "same_time": "ambas prensas en el mismo minuto",
        "footer": "Fuentes y configuración",
        "failing": "Fuentes con fallas",
        "gone": "Fuentes desaparecidas",
        "quiet": "Fuentes en silencio (ningún artículo nuevo en 48 horas)",
        "feeds_ok": "Todas las fuentes respondieron y publicaron en las últimas 48 horas.",
        "and_more": "y {n} más",
        "engine": "Traducción",
        "engine_use": "{engine} ({model}): {articles} artículos",
        "failures": "{n} fallas seguidas",
        "last_article": "último artículo nuevo: {date}",
        "no_article": "todavía ningún artículo",
        "engine_none": "Traducción: ninguno de estos artículos se ha traducido todavía.",
        "subscription": "Para cambiar quién recibe este resumen, edite [digest] recipients en la configuración del monitor.",
        "generated": "Generado el {when} por us-mx-news-monitor.",
        "empty": "Los medios monitoreados no publicaron ningún artículo sobre el debate el {date}.",
        "thin": "Un día con poca cobertura: solo {articles} artículos relevantes. Se omiten las secciones sin datos.",
        "minutes": "{n} min",
        "hours": "{h} h",
        "hours_minutes": "{h} h {m} min",
        "days_hours": "{d} d {h} h",
        "points": "puntos",
        "open": "abrir",
    },
}

# Country names per language: the country, its press (as used in running text), a short tag.
COUNTRIES: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "US": {"name": "United States", "press": "US press", "short": "US"},
        "MX": {"name": "Mexico", "press": "Mexican press", "short": "MX"},
    },
    "es": {
        "US": {"name": "Estados Unidos", "press": "prensa de EE. UU.", "short": "EE. UU."},
        "MX": {"name": "México", "press": "prensa mexicana", "short": "MX"},
    },
}

_WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}
_MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre",
           "octubre", "noviembre", "diciembre"],
}


def check_lang(lang: str) -> str:
    if lang not in MESSAGES:
        from monitor.errors import UsageError

        raise UsageError(f"digest language {lang!r} is not available; use one of: {', '.join(LANGUAGES)}")
    return lang


def t(lang: str, key: str, **values: object) -> str:
    """The message `key` in `lang`, formatted with `values`."""
    return MESSAGES[lang][key].format(**values)


def capital(text: str) -> str:
    """First letter upper-cased, the rest untouched ("prensa de EE. UU." -> "Prensa de EE. UU.")."""
    return text[:1].upper() + text[1:]


def country(lang: str, code: str, part: str = "press") -> str:
    """A country's name, press or short tag; unknown countries fall back to their code."""
    names = COUNTRIES[lang].get(code)
    if names is None:
        return code if part != "press" else f"{code} press" if lang == "en" else f"prensa de {code}"
    return names[part]


def long_date(lang: str, day: date) -> str:
    """"Sunday, 22 November 2026" / "domingo, 22 de noviembre de 2026"."""
    weekday = _WEEKDAYS[lang][day.weekday()]
    month = _MONTHS[lang][day.month - 1]
    if lang == "es":
        return f"{weekday}, {day.day} de {month} de {day.year}"
    return f"{weekday}, {day.day} {month} {day.year}"


def percent(lang: str, share: float) -> str:
    """0.384 -> "38%" (en) / "38 %" (es)."""
    value = round(share * 100)
    return f"{value} %" if lang == "es" else f"{value}%"


def duration(lang: str, minutes: int) -> str:
    """A lead time: "45 min", "3 h 20 min", "2 d 4 h"."""
    minutes = abs(int(minutes))
    if minutes < 60:
        return t(lang, "minutes", n=minutes)
    hours, mins = divmod(minutes, 60)
    if hours >= 48:
        days, hours = divmod(hours, 24)
        return t(lang, "days_hours", d=days, h=hours)
    return t(lang, "hours", h=hours) if mins == 0 else t(lang, "hours_minutes", h=hours, m=mins)
