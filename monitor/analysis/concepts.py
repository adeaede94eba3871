"""Language-independent event features: bilingual concepts and numbers read from an article's own text.

Two articles about one event in different languages share few words once one of them has passed
through a rough translation ("lancha" comes out of a rule-based engine as "launch", "strike" as
"huelga"). So the clusterer also reads each article in its *original* language for:

- concepts: the words the press of both countries uses for the things events are made of, mapped
  to one id per thing ("boat", "vessel", "lancha", "narcolancha", "embarcación" -> `boat`);
- numbers: digits and written numbers ("six", "seis", "6" -> `6`; "26 reos", "25%").

The lexicon is the vocabulary of news about security, drugs, the border and US–Mexico relations in
general (what reports of strikes, arrests, transfers, designations, tariffs, lawsuits or violence
are written with), not the words of particular articles. People, organisations and places are the
debate file's actors, which `monitor analyze` already maps to ids in both languages.

Patterns: a word (stemmed with the language's Snowball stemmer, accents and case ignored), a word
beginning ("narco*") or a phrase of words ("face the nation").
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from monitor.analysis.textnorm import stem, tokens

# concept id -> (English patterns, Spanish patterns)
CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # -- military action at sea and in the air
    "boat": (
        ("boat", "vessel", "speedboat", "go-fast", "narco-boat", "semi-submersible", "narcosub"),
        ("lancha", "narcolancha", "embarcación", "bote", "barco", "buque", "semisumergible", "narcosubmarino"),
    ),
    "strike": (
        ("strike", "airstrike", "attack", "bomb", "bombing", "obliterate", "blow up"),
        ("ataque", "atacar", "bombardeo", "bombardear", "destruir", "golpe", "ofensiva"),
    ),
    "drone": (("drone", "uav"), ("dron", "drones", "aeronave no tripulada")),
    "troops": (("troops", "soldier", "special forces", "marines", "boots on the ground"), ("tropa", "soldado", "fuerzas especiales", "infantes de marina", "efectivos")),
    "sea": (("sea", "waters", "coast", "offshore", "nautical", "high seas"), ("mar", "aguas", "costa", "costas", "altamar", "náutica", "litoral")),
    "navy": (("navy", "naval", "coast guard"), ("marina", "armada", "naval", "guardia costera")),
    "survivor": (("survivor", "survive"), ("sobreviviente", "superviviente", "sobrevivir")),
    "search": (("search", "rescue"), ("búsqueda", "buscar", "rescate", "rescatar")),
    "fisherman": (("fisherman", "fishermen", "fishing"), ("pescador", "pescadores", "pesca", "pesquero")),
    # -- human cost
    "killed": (
        ("kill", "killed", "killing", "dead", "death", "die", "died", "fatality", "slain"),
        ("muerto", "muertos", "muerte", "matar", "mató", "murieron", "morir", "fallecido", "fallecer", "sin vida"),
    ),
    "homicide": (("murder", "homicide", "execute", "execution", "assassination"), ("asesinato", "asesinar", "homicidio", "ejecución", "ejecutar", "ejecutado")),
    "violence": (("violence", "violent", "bloodshed", "shootout", "gunfight", "clash"), ("violencia", "violento", "enfrentamiento", "balacera", "sangre")),
    "missing": (("missing", "disappeared", "disappearance", "abduct", "kidnap", "abduction"), ("desaparecido", "desaparición", "privado de la libertad", "secuestro", "secuestrar", "levantado")),
    "grave": (("grave", "mass grave", "burial pit", "bodies", "remains"), ("fosa", "fosa clandestina", "cuerpos", "restos", "osamenta")),
    "victim_families": (("searching mothers", "families of the missing"), ("madres buscadoras", "colectivo de búsqueda", "buscadoras")),
    "weekend": (("weekend",), ("fin de semana",)),
    "civilian": (("civilian", "bystander", "innocent"), ("civil", "civiles", "inocente", "lugareño")),
    # -- law enforcement
    "arrest": (("arrest", "detain", "capture", "apprehend", "nab"), ("detener", "detención", "detenido", "captura", "capturar", "aprehender", "arresto", "cae", "cayó")),
    "transfer": (
        ("transfer", "expel", "extradite", "extradition", "hand over", "send", "deport"),
        ("traslado", "trasladar", "envío", "enviar", "envía", "mandar", "mandan", "expulsar", "extradición", "extraditar", "entregar", "entrega"),
    ),
    "prisoner": (
        ("prisoner", "inmate", "detainee", "capo", "kingpin", "drug lord"),
        ("reo", "reos", "preso", "presos", "recluso", "detenido", "capo", "capos", "narcos", "criminales", "objetivo prioritario"),
    ),
    "charges": (("charge", "indict", "indictment", "prosecute", "prosecutor", "accuse"), ("acusar", "acusación", "acusan", "cargos", "imputar", "fiscal", "procesar")),
    "reward": (("reward", "bounty"), ("recompensa",)),
    "lab": (("lab", "laboratory", "meth lab"), ("laboratorio", "narcolaboratorio")),
    "seizure": (("seize", "seizure", "bust", "confiscate", "haul"), ("decomiso", "decomisar", "aseguramiento", "asegurar", "incautar", "incautación")),
    # -- designations, law and politics
    "terrorist": (("terrorist", "terror", "terrorism", "narco-terrorist", "narcoterrorism", "fto"), ("terrorista", "terrorismo", "narcoterrorismo", "narcoterrorista")),
    "designation": (("designate", "designation", "blacklist", "label", "list"), ("designar", "designación", "catalogar", "lista", "etiqueta", "declarar")),
    "war_powers": (("war powers", "aumf", "authorization for use of military force"), ("poderes de guerra", "aumf", "autorización para el uso de la fuerza militar")),
    "vote": (("vote", "resolution", "ballot"), ("votación", "votar", "resolución")),
    "lawmakers": (("lawmaker", "senator", "congressman", "democrat", "republican"), ("legislador", "senador", "congresista", "demócrata", "republicano")),
    "legal_limits": (("international law", "law of armed conflict", "legal basis", "extrajudicial", "lawyer", "legality"), ("derecho internacional", "ejecución extrajudicial", "extrajudicial", "legalidad", "abogado", "base legal")),
    "sovereignty": (("sovereignty", "subordination", "subordinate", "interference", "intervention"), ("soberanía", "subordinación", "subordinar", "injerencia", "intervención", "intervenir")),
    "cooperation": (("cooperation", "collaboration", "coordination", "cooperate"), ("cooperación", "colaboración", "coordinación", "cooperar")),
    "escalation": (
        ("continue", "more strikes", "rule out", "on land", "mexican soil", "ground operation", "expand"),
        ("continuar", "seguirán", "más ataques", "descartar", "descartó", "en tierra", "suelo mexicano", "territorio mexicano", "ampliar"),
    ),
    "interview": (("interview", "face the nation", "meet the press", "television", "sunday show"), ("entrevista", "programa de televisión", "televisión")),
    "visa": (("visa", "visas"), ("visa", "visado")),
    "mayor": (("mayor", "governor", "politician"), ("alcalde", "alcaldesa", "gobernador", "político", "funcionario", "edil")),
    "corruption": (("corruption", "collusion", "ties to", "bribe"), ("corrupción", "colusión", "nexos", "vínculos", "soborno")),
    # -- drugs, trade and the economy
    "fentanyl": (("fentanyl",), ("fentanilo",)),
    "precursor": (("precursor", "chemical"), ("precursor", "químico", "sustancia química")),
    "overdose": (("overdose",), ("sobredosis",)),
    "tariff": (("tariff", "duty", "levy"), ("arancel", "arancelario", "aranceles", "gravamen")),
    "trade_pact": (("usmca", "trade pact", "trade agreement", "free trade", "nafta"), ("t-mec", "tmec", "tratado comercial", "tratado de libre comercio", "tlcan")),
    "markets": (("peso", "investor", "market", "stocks", "currency", "bank", "banks"), ("peso", "inversionista", "mercado", "bolsa", "divisa", "banco", "bancos")),
    "business_risk": (("compliance", "exposure", "manufacturer", "company", "companies"), ("cumplimiento", "empresa", "empresas", "manufacturero")),
    # -- guns and the border
    "guns": (("gun", "firearm", "weapon", "rifle", "arms"), ("arma", "armas", "armamento", "fusil", "rifle")),
    "gun_shops": (("gun shop", "gun store", "gun dealer", "gun maker", "gunmaker"), ("armería", "armerías", "tienda de armas", "fabricante de armas")),
    "lawsuit": (("lawsuit", "sue", "suit", "court", "judge", "court ruling"), ("demanda", "demandar", "juez", "jueza", "tribunal", "corte", "fallo")),
    "border": (("border",), ("frontera", "fronterizo", "fronteriza")),
    "migrants": (("migrant", "migration", "immigrant", "asylum"), ("migrante", "migración", "migratorio", "inmigrante", "asilo")),
    "military_zone": (("military zone", "national defense area", "buffer zone"), ("zona militar", "zona de defensa", "área de defensa nacional")),
}

# Written numbers (2..30 and round tens) in both languages; "one"/"uno" name nothing countable.
NUMBER_WORDS: dict[str, dict[str, int]] = {
    "en": {
        "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
        "eleven": 11, "twelve": 12, "dozen": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
        "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
        "hundred": 100,
    },
    "es": {
        "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10,
        "once": 11, "doce": 12, "docena": 12, "trece": 13, "catorce": 14, "quince": 15, "dieciseis": 16,
        "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20, "veintiuno": 21, "veintidos": 22,
        "veintitres": 23, "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26, "veintisiete": 27,
        "veintiocho": 28, "veintinueve": 29, "treinta": 30, "cuarenta": 40, "cincuenta": 50, "cien": 100,
    },
}


@dataclass(frozen=True)
class _Lexicon:
    words: dict[str, str]  # folded stem -> concept
    prefixes: tuple[tuple[str, str], ...]  # (folded prefix, concept)
    phrases: dict[str, tuple[tuple[tuple[str, ...], str], ...]]  # first stem -> ((stems, concept), ...), longest first


@lru_cache(maxsize=4)
def _lexicon(language: str) -> _Lexicon:
    side = 0 if language == "en" else 1
    words: dict[str, str] = {}
    prefixes: list[tuple[str, str]] = []
    phrases: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    for concept, both in CONCEPTS.items():
        for pattern in both[side]:
            if pattern.endswith("*"):
                prefixes.append((tokens(pattern[:-1], language)[0].folded, concept))
                continue
            stems = tuple(stem(t.raw, language) for t in tokens(pattern, language))
            if len(stems) == 1:
                words.setdefault(stems[0], concept)
            elif stems:
                phrases.setdefault(stems[0], []).append((stems, concept))
    return _Lexicon(
        words,
        tuple(prefixes),
        {k: tuple(sorted(v, key=lambda p: -len(p[0]))) for k, v in phrases.items()},
    )


def concepts(text: str, language: str) -> list[str]:
    """Concept ids of `text` (in `language`, en or es), in order of occurrence, repeats kept.
    A phrase wins over the words inside it ("gun shop" is `gun_shops`, not `guns`)."""
    if language not in ("en", "es"):
        return []
    lex = _lexicon(language)
    toks = tokens(text, language)
    stems = [t.stem for t in toks]
    out: list[str] = []
    i = 0
    while i < len(toks):
        hit: tuple[int, str] | None = None
        for phrase, concept in lex.phrases.get(stems[i], ()):
            n = len(phrase)
            if tuple(stems[i : i + n]) == phrase:
                hit = (n, concept)
                break
        if hit is None:
            concept = lex.words.get(stems[i])
            if concept is None:
                concept = next((c for p, c in lex.prefixes if toks[i].folded.startswith(p)), None)
            hit = (1, concept) if concept else None
        if hit:
            out.append(hit[1])
            i += hit[0]
        else:
            i += 1
    return out


def numbers(text: str, language: str) -> list[str]:
    """Numbers cited in `text`, digits or written out, as digit strings ("seis muertos" -> ["6"]).
    0 and 1 are left out (they count nothing that tells events apart)."""
    words = NUMBER_WORDS.get(language, {})
    out: list[str] = []
    for t in tokens(text, language):
        if t.folded.isdigit():
            value = t.folded.lstrip("0") or "0"
        elif t.folded in words:
            value = str(words[t.folded])
        else:
            continue
        if value not in ("0", "1"):
            out.append(value)
    return out
