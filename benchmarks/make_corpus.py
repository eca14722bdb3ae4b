"""Generate a deterministic synthetic news corpus for indexing and search benchmarks.

Usage:

    python benchmarks/make_corpus.py N [--out DIR] [--seed S] [--format text|jsonl|both]

writes N generated news stories to DIR (default: benchmarks/corpus/N, git-ignored):

- ``DIR/text/0042/000042123.txt``: the corpus text format, at most 1,000 files per folder::

       date 2019-10-23 By Benet Koleka

      TIRANA (Reuters) - Albanian police foiled ...

      (Reporting by Benet Koleka; Editing by David Holmes)

- ``DIR/stories.jsonl``: one JSON object a line with the keys id, headline, published,
  bylines, location, source and body (the body is the same text, dateline and credit line
  included; headlines exist only here);
- ``DIR/queries.tsv``: ~200 benchmark queries (``id<TAB>text``, 1-3 words each) drawn from
  mid-frequency words and names, the same for every N with the same seed;
- ``DIR/manifest.json``: the parameters, so a re-run may safely replace the old output.

The same N, seed and Python version give byte-identical output; the first K stories of a
larger run equal a run of K. The text is not English but has the
statistics that matter to an index: a Zipf-distributed vocabulary of ~50,000 words (real
words from the relevance collections under ../shared/eval and the seed stories, padded with
generated pronounceable words), thousands of generated person, place and organisation names,
topics that make words and names co-occur, sentences of 8-35 words with punctuation and
quoted speech, real Reuters sentences mixed in, skewed story lengths (50-1,500 words,
median ~250, mean ~290, so ~1.9 KB a story),
dates over 1995-2024, a few hundred bylines, ~150 dateline places and several agencies.
The vocabulary depends on those shared files, so keep them unchanged for comparable runs.

Speed comes from drawing words out of precomputed Zipf lookup tables (one ``random()``
per word) and from streaming: memory stays flat whatever N is.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def words_of(text: str) -> tuple[str, ...]:
    """The whitespace-separated words of `text`: word lists stay readable as paragraphs."""
    return tuple(text.split())


BENCHMARKS_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCHMARKS_DIR.parent
# ../shared next to the checkout; a git worktree under ../wt/NAME finds it one level further up.
SHARED_DIR = next(
    (folder / "shared" for folder in (REPO_DIR.parent, REPO_DIR.parent.parent) if (folder / "shared").is_dir()),
    REPO_DIR.parent / "shared",
)
EVAL_DIR = SHARED_DIR / "eval"
SEED_DIRS = (REPO_DIR / "seeds", SHARED_DIR / "seeds")

VOCABULARY_SIZE = 50_000
WORD_EXPONENT = 1.05
WORD_TABLE_SIZE = 1 << 21  # every one of the 50,000 words gets at least one slot
NAME_TABLE_SIZE = 1 << 18
PERSON_COUNT = 3_000
PLACE_COUNT = 1_500
ORGANISATION_COUNT = 1_000
REPORTER_COUNT = 300
EDITOR_COUNT = 60
TOPIC_COUNT = 500
TOPIC_WORDS = 25
CONTENT_FROM_RANK = 150  # ranks above this are function words, never topic words
QUERY_COUNT = 200
FILES_PER_FOLDER = 1_000
FIRST_DAY = date(1995, 1, 1).toordinal()
LAST_DAY = date(2024, 12, 31).toordinal()
MEDIAN_BODY_WORDS = 235
BODY_SIGMA = 0.55
MIN_BODY_WORDS, MAX_BODY_WORDS = 50, 1_440  # dateline and credit line come on top

# Words a newswire uses far more than abstracts do, most frequent first; they get boosted
# counts so that news phrasing ranks high in the vocabulary.
NEWS_WORDS = words_of("""
said would year government police officials minister president told people country percent
million billion week state new also two last first could three after since against former
national security foreign military forces court party election vote officials statement
spokesman company market shares prices bank economy trade deal talks leader leaders city
capital north south east west attack killed arrested investigation report reported according
monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december united states union european international
minister's prime opposition parliament agreement sanctions oil gas energy fuel tax budget
growth inflation rates interest investors analysts quarter profit revenue sales billion
workers union strike protest protesters demonstrators troops border war peace ceasefire
refugees aid health hospital virus vaccine school students children women men family
officer officers judge trial prison charges accused lawyer lawyers case ruling appeal
spokeswoman agency news sources source asked comment declined expected plans plan announced
earlier later month months years day days weeks nearly about around more than less many
several some most other another country's region regional local federal central public private
american british chinese european french german russian iranian israeli japanese indian turkish
syrian iraqi ukrainian palestinian korean italian spanish english
""")

# Words the wire always capitalises ("may" stays lower: far more often a verb than a month).
PROPER_WORDS = frozenset(
    words_of("""
monday tuesday wednesday thursday friday saturday sunday january february march april june
july august september october november december american british chinese european french
german russian iranian israeli japanese indian turkish syrian iraqi ukrainian palestinian
korean italian spanish english soviet african asian canadian australian
""")
)

FIRST_NAMES = words_of("""
James John Robert Michael William David Richard Joseph Thomas Charles Mary Patricia Jennifer
Linda Elizabeth Barbara Susan Jessica Sarah Karen Ahmed Mohammed Ali Hassan Fatima Aisha Omar
Yusuf Layla Mariam Wei Li Ming Jing Hiroshi Yuki Kenji Akiko Sung Min Ji Raj Priya Arjun
Anita Sanjay Deepa Ivan Olga Dmitry Natalia Sergei Elena Pavel Anna Jan Piotr Katarzyna
Hans Klaus Ingrid Sabine Jurgen Pierre Marie Jean Sophie Luc Claire Giovanni Maria Marco
Giulia Luca Francesca Carlos Ana Jose Lucia Miguel Sofia Juan Isabel Pedro Camila Diego
Gabriela Kwame Amara Chidi Ngozi Tunde Zainab Benet Ardi Edi Maryam Lars Astrid Nils Freya
Emre Ayse Mehmet Elif Nikos Eleni Andreas Daniela Tomas Eva Peter Helen Mark Alison Simon
Kate Paul Susan Andrew Rachel Steve Laura Daniel Emma Chris Lucy Matthew Jane Tim Grace
Dan Rosa Leila Karim Nadia Samir Rania Tariq Hana Yasmin Farid Arash Parisa Reza Shirin
""")

COUNTRIES = words_of("""
Afghanistan Albania Algeria Argentina Australia Austria Bangladesh Belarus Belgium Bolivia
Brazil Bulgaria Canada Chile China Colombia Croatia Cuba Denmark Ecuador Egypt Ethiopia
Finland France Germany Ghana Greece Hungary India Indonesia Iran Iraq Ireland Israel Italy
Japan Jordan Kazakhstan Kenya Kosovo Lebanon Libya Malaysia Mexico Morocco Myanmar Nepal
Netherlands Nigeria Norway Pakistan Peru Philippines Poland Portugal Qatar Romania Russia
Serbia Singapore Somalia Spain Sudan Sweden Switzerland Syria Taiwan Thailand Tunisia Turkey
Uganda Ukraine Venezuela Vietnam Yemen Zimbabwe Britain Europe Africa Asia
""")

REAL_ORGANISATIONS = (
    "European Union",
    "United Nations",
    "NATO",
    "World Bank",
    "International Monetary Fund",
    "OPEC",
    "Federal Reserve",
    "European Central Bank",
    "Supreme Court",
    "Security Council",
    "World Health Organization",
    "Red Cross",
    "Interior Ministry",
    "Foreign Ministry",
    "Defence Ministry",
    "Finance Ministry",
    "Central Bank",
    "Constitutional Court",
    "Socialist Party",
    "Democratic Party",
    "People's Party",
    "Labour Party",
    "Green Party",
)

ORGANISATION_SUFFIXES = (
    "Group",
    "Holdings",
    "Bank",
    "Corp",
    "Partners",
    "Capital",
    "Energy",
    "Motors",
    "Airlines",
    "Foundation",
    "Institute",
    "Telecom",
    "Mining",
    "Pharmaceuticals",
    "Insurance",
    "Steel",
)

TITLES = (
    "President",
    "Prime Minister",
    "Foreign Minister",
    "Finance Minister",
    "General",
    "Chief Executive",
    "Senator",
    "Judge",
    "Mayor",
    "Governor",
    "Spokesman",
)

# Dateline places as the wire writes them, most used first.
DATELINE_PLACES = """
WASHINGTON|LONDON|NEW YORK|BRUSSELS|BEIJING|MOSCOW|PARIS|TOKYO|BERLIN|HONG KONG|SINGAPORE|
FRANKFURT|GENEVA|JERUSALEM|BEIRUT|CAIRO|DUBAI|NEW DELHI|MUMBAI|ISLAMABAD|KABUL|BAGHDAD|
TEHRAN|ANKARA|ISTANBUL|ATHENS|ROME|MILAN|MADRID|LISBON|DUBLIN|AMSTERDAM|THE HAGUE|VIENNA|
ZURICH|STOCKHOLM|OSLO|COPENHAGEN|HELSINKI|WARSAW|PRAGUE|BUDAPEST|BUCHAREST|SOFIA|BELGRADE|
ZAGREB|SARAJEVO|TIRANA|SKOPJE|PRISTINA|KIEV|KYIV|MINSK|VILNIUS|RIGA|TALLINN|TBILISI|YEREVAN|
BAKU|ALMATY|TASHKENT|SEOUL|PYONGYANG|TAIPEI|SHANGHAI|MANILA|JAKARTA|KUALA LUMPUR|BANGKOK|
HANOI|YANGON|DHAKA|COLOMBO|KATHMANDU|SYDNEY|CANBERRA|WELLINGTON|OTTAWA|TORONTO|MEXICO CITY|
HAVANA|CARACAS|BOGOTA|LIMA|QUITO|SANTIAGO|BUENOS AIRES|MONTEVIDEO|SAO PAULO|BRASILIA|
RIO DE JANEIRO|SALVADOR|LA PAZ|NAIROBI|ADDIS ABABA|KHARTOUM|LAGOS|ABUJA|ACCRA|DAKAR|
JOHANNESBURG|CAPE TOWN|HARARE|KINSHASA|KAMPALA|MOGADISHU|TRIPOLI|TUNIS|ALGIERS|RABAT|
AMMAN|DAMASCUS|RIYADH|DOHA|ABU DHABI|KUWAIT|MUSCAT|SANAA|GAZA|RAMALLAH|CHICAGO|LOS ANGELES|
SAN FRANCISCO|HOUSTON|DALLAS|MIAMI|ATLANTA|BOSTON|DETROIT|SEATTLE|DENVER|PHOENIX|
ST. PETERSBURG|VLADIVOSTOK|OSAKA|BANGALORE|KARACHI|LUXEMBOURG|MONACO|EDINBURGH|MANCHESTER|
WASHINGTON/LONDON|LONDON/NEW YORK|BRUSSELS/BERLIN|PARIS/LONDON|BEIJING/HONG KONG|
MOSCOW/KIEV|DUBAI/RIYADH|NEW YORK/WASHINGTON|TOKYO/SEOUL|GENEVA/VIENNA
""".replace("\n", "").split("|")

# US datelines carry a state instead of a date: "SPRINGFIELD, Ill. (Reuters) -".
QUALIFIED_PLACES = (
    ("SPRINGFIELD", "Ill."),
    ("AUSTIN", "Texas"),
    ("SACRAMENTO", "Calif."),
    ("ALBANY", "N.Y."),
    ("TALLAHASSEE", "Fla."),
)

DATELINE_MONTHS = words_of("Jan Feb March April May June July Aug Sept Oct Nov Dec")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
GENERIC_SPEAKERS = (
    "a spokesman",
    "a spokeswoman",
    "the official",
    "he",
    "she",
    "officials",
    "a senior official",
    "one analyst",
    "the ministry",
    "police",
)
SOURCES = ((0.76, "Reuters"), (0.10, "AP"), (0.06, "AFP"), (0.08, None))

ONSETS = words_of("b c d f g h j k l m n p r s t v w z br cr dr fr gr pr tr st sl sp ch sh th bl cl fl gl pl kr sk")
VOWELS = words_of("a e i o u a e i o ai ea ou io")
CODAS = ["", "", "", "n", "r", "s", "l", "t", "m", "nd", "st", "rk"]
SURNAME_ENDINGS = ["", "", "son", "ova", "ez", "ini", "ski", "ani", "er", "man", "ic", "oglu"]
PLACE_ENDINGS = ["", "a", "ia", "burg", "ville", "abad", "pur", "grad", "ton", "ford", "sk", "ov"]

_SECTION = re.compile(r"^\.([A-Z])\b")
_WORD = re.compile(r"[a-z]+")
_CASED_WORD = re.compile(r"[A-Za-z]+")
_SEED_DATELINE = re.compile(r"\A[A-Z][A-Z'.&/ -]*(?:,[^()\n]*?)?\s*(?:\([^()\n]{1,40}\)\s*)?[-\u2013\u2014]{1,2}\s+")
_SENTENCE_END = re.compile(r"""([.!?]["'\u201d\u2019)]?)\s+(?=["\u201c(]?[A-Z])""")


@dataclass(frozen=True, slots=True)
class Topic:
    """What a story is about: words and names that co-occur in its stories."""

    words: tuple[str, ...]
    persons: tuple[str, ...]
    places: tuple[str, ...]
    organisations: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class World:
    """Everything drawn once per seed: vocabulary tables, names, places, topics."""

    vocabulary: tuple[str, ...]  # by rank, most frequent first
    word_table: list[str]  # Zipf lookup: a uniform slot gives a Zipf-distributed word
    person_table: list[str]
    place_table: list[str]
    organisation_table: list[str]
    reporter_table: list[str]
    editors: tuple[str, ...]
    dateline_table: list[str]
    topic_table: list[Topic]
    topics: tuple[Topic, ...]
    seed_sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class GeneratedStory:
    """One generated story, ready to render in either output format."""

    id: str
    headline: str
    published: date
    bylines: tuple[str, ...]
    location: str
    source: str | None
    body: str


# ---------------------------------------------------------------------------- sampling


def zipf_table(items: Sequence[T], exponent: float, size: int) -> list[T]:
    """A lookup table where item r (0-based) fills a share of slots proportional to 1/(r+1)^s.

    Drawing a uniform slot then costs one ``random()``, much faster than bisecting
    cumulative weights; every item gets at least one slot so the long tail survives.
    """
    weights = [1.0 / (rank + 1) ** exponent for rank in range(len(items))]
    total = sum(weights)
    table: list[T] = []
    cumulative = 0.0
    filled = 0
    for item, weight in zip(items, weights, strict=True):
        cumulative += weight
        boundary = max(round(cumulative / total * size), filled + 1)
        table.extend([item] * (boundary - filled))
        filled = boundary
    return table


def pick(rng: random.Random, table: Sequence[T]) -> T:
    """One item from a lookup table (or any sequence, uniformly)."""
    return table[int(rng.random() * len(table))]


def pick_distinct(rng: random.Random, table: Sequence[str], count: int) -> list[str]:
    """Up to `count` different items from a lookup table, in draw order."""
    chosen: list[str] = []
    for _ in range(count * 4):
        item = pick(rng, table)
        if item not in chosen:
            chosen.append(item)
            if len(chosen) == count:
                break
    return chosen


# ---------------------------------------------------------------------------- vocabulary


def read_eval_words(eval_dir: Path) -> tuple[Counter[str], list[str]]:
    """Word counts from the title/text sections of the test collections, plus author surnames."""
    counts: Counter[str] = Counter()
    surnames: set[str] = set()
    if not eval_dir.is_dir():
        warning = f"make_corpus: warning: {eval_dir} not found; vocabulary is generated only"
        print(warning, file=sys.stderr)
        return counts, []
    for path in sorted(p for p in eval_dir.rglob("*") if p.is_file()):
        section = ""
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            marker = _SECTION.match(line)
            if marker:
                section = marker.group(1)
            elif section in ("T", "W"):
                counts.update(_WORD.findall(line.lower()))
            elif section == "A":
                surname = line.split(",")[0].strip()
                if surname.isalpha() and len(surname) >= 4:
                    surnames.add(surname.capitalize())
    return counts, sorted(surnames)


def read_seed_stories(seed_dirs: Iterable[Path]) -> list[str]:
    """The bodies of the real seed stories without first line and dateline, by file name."""
    files: dict[str, Path] = {}
    for folder in seed_dirs:
        if folder.is_dir():
            for path in folder.glob("*.txt"):
                files.setdefault(path.name, path)
    bodies = []
    for name in sorted(files):
        text = files[name].read_text(encoding="utf-8")
        body = text.split("\n", 1)[1].strip() if "\n" in text else ""
        bodies.append(_SEED_DATELINE.sub("", body))
    return bodies


def seed_sentences(bodies: Iterable[str]) -> list[str]:
    """Real sentences from the seed stories, dateline and credit lines removed."""
    sentences: list[str] = []
    for body in bodies:
        for paragraph in body.split("\n\n"):
            paragraph = paragraph.strip()
            if not paragraph or paragraph.startswith("("):
                continue
            marked = _SENTENCE_END.sub("\\1\\n", paragraph)
            sentences.extend(s for s in marked.split("\n") if len(s.split()) >= 6)
    return sentences


def invented_word(rng: random.Random, syllables: int) -> str:
    """A pronounceable lower-case non-word such as "brastel"."""
    parts = [pick(rng, ONSETS) + pick(rng, VOWELS) for _ in range(syllables)]
    return "".join(parts) + pick(rng, CODAS)


def build_vocabulary(
    rng: random.Random, eval_counts: Counter[str], seed_bodies: Sequence[str], size: int
) -> tuple[str, ...]:
    """Words by rank: real words by (boosted) frequency, then invented words for the tail.

    Words are spelled as the news spells them: weekdays, months and nationalities
    capitalised, and names from the seed stories ("Albania", "IRNA") kept as written there.
    """
    scores: Counter[str] = Counter({w: n for w, n in eval_counts.items() if len(w) > 1 or w == "a"})
    spellings = {word: word.capitalize() for word in PROPER_WORDS}
    seed_spellings = proper_spellings(seed_bodies)
    for body in seed_bodies:
        for word in _WORD.findall(body.lower()):
            scores[word] += 30
            if word in seed_spellings and word not in eval_counts and word not in NEWS_WORDS:
                spellings[word] = seed_spellings[word]
    for position, word in enumerate(NEWS_WORDS):
        scores[word] += round(2000 / (1 + position / 40))
    ranked = sorted(scores, key=lambda w: (-scores[w], w))[:size]
    known = set(ranked)
    while len(ranked) < size:
        word = invented_word(rng, rng.choice((1, 2, 2, 2, 3)))
        if word not in known:
            known.add(word)
            ranked.append(word)
    return tuple(spellings.get(word, word) for word in ranked)


def proper_spellings(bodies: Iterable[str]) -> dict[str, str]:
    """Words the seed stories never write in lower case, as they write them most often."""
    forms: dict[str, Counter[str]] = {}
    for body in bodies:
        for token in _CASED_WORD.findall(body):
            forms.setdefault(token.lower(), Counter())[token] += 1
    return {
        word: counts.most_common(1)[0][0]
        for word, counts in forms.items()
        if len(word) > 1 and all(form[0].isupper() for form in counts)
    }


# ---------------------------------------------------------------------------- names


def invented_name(rng: random.Random, endings: Sequence[str]) -> str:
    """A capitalised invented name such as "Dravoski" or "Kelaburg"."""
    stem = "".join(pick(rng, ONSETS) + pick(rng, VOWELS) for _ in range(rng.choice((1, 2, 2, 3))))
    return (stem + pick(rng, endings)).capitalize()


def unique(rng: random.Random, count: int, make: Callable[[random.Random], str]) -> list[str]:
    """`count` distinct results of calling `make(rng)`, in the order first made."""
    seen: dict[str, None] = {}
    while len(seen) < count:
        seen.setdefault(make(rng), None)
    return list(seen)


def build_people(rng: random.Random, real_surnames: Sequence[str], count: int) -> list[str]:
    """Distinct "First Last" names; surnames half real (collection authors), half invented."""
    surnames = list(real_surnames)
    invented = max(count // 2, 2 * count - len(surnames))
    surnames += unique(rng, invented, lambda r: invented_name(r, SURNAME_ENDINGS))

    def person(r: random.Random) -> str:
        return f"{pick(r, FIRST_NAMES)} {pick(r, surnames)}"

    return unique(rng, count, person)


def build_places(rng: random.Random, count: int) -> list[str]:
    """Place names for sentences: real countries and dateline cities first, then invented ones."""
    places = dict.fromkeys(COUNTRIES)
    for dateline in DATELINE_PLACES:
        for part in dateline.split("/"):
            places.setdefault(part.title(), None)
    while len(places) < count:
        places.setdefault(invented_name(rng, PLACE_ENDINGS), None)
    return list(places)[:count]


def build_organisations(rng: random.Random, places: Sequence[str], count: int) -> list[str]:
    """Organisation names: a few real ones, then "Kelaburg Bank", "Dravoski Group", "KZT"."""

    def organisation(r: random.Random) -> str:
        shape = r.random()
        if shape < 0.45:
            return f"{invented_name(r, SURNAME_ENDINGS)} {pick(r, ORGANISATION_SUFFIXES)}"
        if shape < 0.7:
            return f"{pick(r, places)} {pick(r, ORGANISATION_SUFFIXES)}"
        if shape < 0.85:
            return "".join(chr(65 + int(r.random() * 26)) for _ in range(r.choice((3, 3, 4))))
        return f"Ministry of {invented_name(r, ('',))}"

    organisations = dict.fromkeys(REAL_ORGANISATIONS)
    while len(organisations) < count:
        organisations.setdefault(organisation(rng), None)
    return list(organisations)


def build_topics(
    rng: random.Random,
    content_table: Sequence[str],
    person_table: Sequence[str],
    place_table: Sequence[str],
    organisation_table: Sequence[str],
    count: int,
) -> tuple[Topic, ...]:
    """Topics: each a set of content words and names that its stories share."""
    return tuple(
        Topic(
            words=tuple(pick_distinct(rng, content_table, TOPIC_WORDS)),
            persons=tuple(pick_distinct(rng, person_table, 6)),
            places=tuple(pick_distinct(rng, place_table, 3)),
            organisations=tuple(pick_distinct(rng, organisation_table, 3)),
        )
        for _ in range(count)
    )


def build_world(seed: int) -> World:
    """Draw the vocabulary, names, places and topics for `seed` (independent of N)."""
    rng = random.Random(f"world-{seed}")
    eval_counts, real_surnames = read_eval_words(EVAL_DIR)
    bodies = read_seed_stories(SEED_DIRS)
    vocabulary = build_vocabulary(rng, eval_counts, bodies, VOCABULARY_SIZE)
    people = build_people(rng, real_surnames, PERSON_COUNT + REPORTER_COUNT + EDITOR_COUNT)
    rng.shuffle(people)
    persons = people[:PERSON_COUNT]
    reporters = people[PERSON_COUNT : PERSON_COUNT + REPORTER_COUNT]
    editors = people[PERSON_COUNT + REPORTER_COUNT :]
    places = build_places(rng, PLACE_COUNT)
    organisations = build_organisations(rng, places, ORGANISATION_COUNT)
    person_table = zipf_table(persons, 1.0, NAME_TABLE_SIZE)
    place_table = zipf_table(places, 1.0, NAME_TABLE_SIZE)
    organisation_table = zipf_table(organisations, 1.0, NAME_TABLE_SIZE)
    content_table = zipf_table(vocabulary[CONTENT_FROM_RANK:], 0.9, WORD_TABLE_SIZE // 2)
    topics = build_topics(rng, content_table, person_table, place_table, organisation_table, TOPIC_COUNT)
    datelines = list(DATELINE_PLACES) + [f"{place}, {state}" for place, state in QUALIFIED_PLACES]
    return World(
        vocabulary=vocabulary,
        word_table=zipf_table(vocabulary, WORD_EXPONENT, WORD_TABLE_SIZE),
        person_table=person_table,
        place_table=place_table,
        organisation_table=organisation_table,
        reporter_table=zipf_table(reporters, 0.8, 1 << 14),
        editors=tuple(editors),
        dateline_table=zipf_table(datelines, 0.8, 1 << 14),
        topic_table=zipf_table(topics, 0.8, 1 << 14),
        topics=topics,
        seed_sentences=tuple(seed_sentences(bodies)),
    )


# ---------------------------------------------------------------------------- stories


@dataclass(slots=True)
class Cast:
    """The words and names one story keeps coming back to."""

    words: list[str]
    persons: list[str]
    places: list[str]
    organisations: list[str]


def cast_story(rng: random.Random, world: World, location: str) -> Cast:
    """Choose a story's topic words and names: mostly its topic's, some from anywhere."""
    topic = pick(rng, world.topic_table)
    words = list(topic.words)
    persons = rng.sample(topic.persons, rng.choice((1, 1, 2, 2, 3)))
    organisations = rng.sample(topic.organisations, rng.choice((0, 1, 1, 2)))
    if rng.random() < 0.3:
        extra = pick(rng, world.topic_table)
        words += extra.words[:10]
        persons.append(pick(rng, extra.persons))
    if rng.random() < 0.5:
        persons.append(pick(rng, world.person_table))
    places = [location.split("/")[0], pick(rng, topic.places), pick(rng, world.place_table)]
    return Cast(words, persons, places, organisations or [pick(rng, world.organisation_table)])


def number_phrase(rng: random.Random) -> str:
    """A number as news writes it: "2018", "3,000", "$1.5 billion", "12 percent"."""
    shape = rng.random()
    if shape < 0.25:
        return str(1950 + int(rng.random() * 75))
    if shape < 0.5:
        return str(2 + int(rng.random() * 500))
    if shape < 0.65:
        return f"{1 + int(rng.random() * 99)},{int(rng.random() * 1000):03d}"
    if shape < 0.82:
        return f"{1 + int(rng.random() * 60)}.{int(rng.random() * 10)} percent"
    unit = "billion" if rng.random() < 0.4 else "million"
    return f"${1 + int(rng.random() * 900)}.{int(rng.random() * 10)} {unit}"


def name_for(rng: random.Random, world: World, cast: Cast) -> str:
    """A name to mention: mostly the story's own people, places and organisations."""
    kind = rng.random()
    if rng.random() < 0.15:  # the long tail: anyone at all
        if kind < 0.4:
            return pick(rng, world.person_table)
        return pick(rng, world.place_table if kind < 0.75 else world.organisation_table)
    if kind < 0.45:
        person = pick(rng, cast.persons)
        roll = rng.random()
        if roll < 0.1:
            return f"{pick(rng, TITLES)} {person}"
        return person if roll < 0.55 else person.rsplit(" ", 1)[-1]
    if kind < 0.8:
        return pick(rng, cast.places)
    return pick(rng, cast.organisations)


def speaker_for(rng: random.Random, cast: Cast) -> str:
    """Who said it: a person from the story, or a generic source."""
    if rng.random() < 0.6:
        person = pick(rng, cast.persons)
        return person if rng.random() < 0.4 else person.rsplit(" ", 1)[-1]
    return pick(rng, GENERIC_SPEAKERS)


def sentence(rng: random.Random, world: World, cast: Cast, length: int) -> str:
    """One sentence of `length` drawn words plus names, numbers, commas and maybe a quote."""
    words = rng.choices(world.word_table, k=length)
    topic_words = cast.words
    for _ in range(int(length * 0.08 + rng.random())):
        words[int(rng.random() * length)] = pick(rng, topic_words)
    if rng.random() < 0.55:
        words.insert(int(rng.random() * length), name_for(rng, world, cast))
    if rng.random() < 0.2:
        words.insert(int(rng.random() * length), name_for(rng, world, cast))
    if rng.random() < 0.15:
        words.insert(int(rng.random() * length), number_phrase(rng))
    if length > 12 and rng.random() < 0.6:
        position = 3 + int(rng.random() * (length - 6))
        words[position] += ","
    first = words[0]
    words[0] = first[0].upper() + first[1:]
    text = " ".join(words)
    roll = rng.random()
    if roll < 0.12:
        return f'"{text}," {speaker_for(rng, cast)} said.'
    if roll < 0.22:
        when = f" on {pick(rng, WEEKDAYS)}" if rng.random() < 0.5 else ""
        return f"{text}, {speaker_for(rng, cast)} said{when}."
    return text + "."


def sentence_length(rng: random.Random) -> int:
    """Words in a sentence: 8-35, most around 18-22."""
    return int(rng.triangular(8, 36, 19))


def body_words(rng: random.Random) -> int:
    """Target body length: log-normal (skewed, long tail), clipped to 50-1,500 words."""
    words = round(rng.lognormvariate(math.log(MEDIAN_BODY_WORDS), BODY_SIGMA))
    return min(max(words, MIN_BODY_WORDS), MAX_BODY_WORDS)


def paragraphs(rng: random.Random, world: World, cast: Cast, target: int) -> list[str]:
    """Paragraphs of 1-3 sentences until the story has about `target` words (lead alone)."""
    result: list[str] = []
    written = 0
    current: list[str] = []
    quota = 1  # the lead paragraph is one sentence
    while written < target:
        if world.seed_sentences and rng.random() < 0.02:
            text = pick(rng, world.seed_sentences)
            written += text.count(" ") + 1
        else:
            length = min(sentence_length(rng), max(target - written, 8))
            text = sentence(rng, world, cast, length)
            written += text.count(" ") + 1
        current.append(text)
        if len(current) >= quota:
            result.append(" ".join(current))
            current = []
            quota = rng.choice((1, 2, 2, 2, 3, 3))
    if current:
        result.append(" ".join(current))
    return result


def dateline(rng: random.Random, place: str, source: str | None, published: date) -> str:
    """The opening of the lead: "TIRANA (Reuters) -", "NEW YORK, Oct 23 (Reuters) -", ..."""
    dash = "-" if rng.random() < 0.9 else ("\u2013" if rng.random() < 0.6 else "\u2014")
    qualified = "," in place
    if not qualified and (source is None or rng.random() < 0.3) and "/" not in place:
        place = f"{place}, {DATELINE_MONTHS[published.month - 1]} {published.day}"
    agency = f" ({source})" if source else ""
    return f"{place}{agency} {dash}"


def credit_line(rng: random.Random, world: World, bylines: Sequence[str]) -> str:
    """ "(Reporting by A and B; Additional reporting by C; Editing by D)"."""
    reporters = list(bylines) or pick_distinct(rng, world.reporter_table, rng.choice((1, 1, 2)))
    parts = [f"Reporting by {join_names(reporters)}"]
    if rng.random() < 0.3:
        extra = [r for r in pick_distinct(rng, world.reporter_table, 2) if r not in reporters]
        if extra:
            parts.append(f"Additional reporting by {join_names(extra)}")
    if rng.random() < 0.2:
        parts.append(f"Writing by {pick(rng, world.reporter_table)}")
    editors = [pick(rng, world.editors)]
    if rng.random() < 0.3:
        editors.append(pick(rng, world.editors))
    parts.append(f"Editing by {join_names(list(dict.fromkeys(editors)))}")
    return f"({'; '.join(parts)})"


def join_names(names: Sequence[str]) -> str:
    """["A"] → "A", ["A", "B"] → "A and B", ["A", "B", "C"] → "A, B and C"."""
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} and {names[-1]}"


def headline(rng: random.Random, world: World, cast: Cast) -> str:
    """A sentence-case headline of 5-11 words, usually naming someone or somewhere."""
    words = [
        pick(rng, cast.words) if rng.random() < 0.6 else pick(rng, world.word_table)
        for _ in range(4 + int(rng.random() * 6))
    ]
    if rng.random() < 0.75:
        words.insert(0 if rng.random() < 0.6 else 1, name_for(rng, world, cast))
    words[0] = words[0][0].upper() + words[0][1:]
    return " ".join(words)


def choose_source(rng: random.Random) -> str | None:
    """The agency: mostly Reuters, some AP or AFP, some older copy naming none."""
    roll = rng.random()
    for share, source in SOURCES:
        if roll < share:
            return source
        roll -= share
    return None


def choose_bylines(rng: random.Random, world: World) -> tuple[str, ...]:
    """None (15%), one reporter (70%), two or three (15%), the prolific ones more often."""
    roll = rng.random()
    count = 0 if roll < 0.15 else 1 if roll < 0.85 else 2 if roll < 0.97 else 3
    return tuple(pick_distinct(rng, world.reporter_table, count))


def make_story(rng: random.Random, world: World, number: int) -> GeneratedStory:
    """Generate story number `number` (0-based) from the running random stream."""
    published = date.fromordinal(FIRST_DAY + int(rng.random() * (LAST_DAY - FIRST_DAY + 1)))
    source = choose_source(rng)
    bylines = choose_bylines(rng, world)
    place = pick(rng, world.dateline_table)
    location = place.split(",")[0].title()
    cast = cast_story(rng, world, location)
    body = paragraphs(rng, world, cast, body_words(rng))
    body[0] = f"{dateline(rng, place, source, published)} {body[0]}"
    if source == "Reuters" and rng.random() < 0.9:
        body.append(credit_line(rng, world, bylines))
    return GeneratedStory(
        id=f"{number:09d}",
        headline=headline(rng, world, cast),
        published=published,
        bylines=bylines,
        location=location,
        source=source,
        body="\n\n".join(body),
    )


def generate_stories(count: int, seed: int, world: World) -> Iterator[GeneratedStory]:
    """Stream `count` stories; the same seed always gives the same stories."""
    rng = random.Random(f"stories-{seed}")
    for number in range(count):
        yield make_story(rng, world, number)


# ---------------------------------------------------------------------------- output


def render_text(story: GeneratedStory) -> str:
    """The corpus text format: " date YYYY-MM-DD By A and B", blank line, body."""
    by = f" By {join_names(story.bylines)}" if story.bylines else ""
    return f" date {story.published.isoformat()}{by}\n\n{story.body}\n\n"


def render_json(story: GeneratedStory) -> str:
    """One JSON Lines record (keys in a fixed order)."""
    record = {
        "id": story.id,
        "headline": story.headline,
        "published": story.published.isoformat(),
        "bylines": list(story.bylines),
        "location": story.location,
        "source": story.source,
        "body": story.body,
    }
    return json.dumps(record, ensure_ascii=False) + "\n"


def text_path(root: Path, story_id: str, number: int) -> Path:
    """text/0042/000042123.txt: folders of at most FILES_PER_FOLDER files."""
    return root / "text" / f"{number // FILES_PER_FOLDER:04d}" / f"{story_id}.txt"


def make_queries(seed: int, world: World, count: int) -> list[str]:
    """`count` distinct 1-3 word queries from mid-frequency words and names of common topics."""
    rng = random.Random(f"queries-{seed}")
    rank = {word: position for position, word in enumerate(world.vocabulary)}
    queries: dict[str, None] = {}
    while len(queries) < count:
        topic = pick(rng, world.topic_table)
        words = [w for w in topic.words if 300 <= rank[w] <= 12_000]
        names = [p.rsplit(" ", 1)[-1] for p in topic.persons] + list(topic.places)
        size = rng.choice((1, 1, 2, 2, 2, 3))
        terms: list[str] = []
        if rng.random() < 0.35:
            terms.append(pick(rng, names))
        while len(terms) < size and words:
            word = pick(rng, words)
            if word not in terms:
                terms.append(word)
        text = " ".join(terms)
        if terms and len(text.split()) <= 3:
            queries.setdefault(text, None)
    return list(queries)


def prepare_output(root: Path) -> None:
    """Create `root`, replacing earlier output of this script but nothing else."""
    manifest = root / "manifest.json"
    ours = [root / "text", root / "stories.jsonl", root / "queries.tsv"]
    if any(path.exists() for path in ours) and not manifest.exists():
        raise SystemExit(f"make_corpus: {root} holds files this script did not make; use another --out")
    if (root / "text").exists():
        shutil.rmtree(root / "text")
    for path in [*ours[1:], manifest]:
        path.unlink(missing_ok=True)
    root.mkdir(parents=True, exist_ok=True)


def write_corpus(root: Path, count: int, seed: int, formats: str) -> tuple[int, int]:
    """Write stories, queries and manifest; return (bytes of text, bytes of JSON Lines)."""
    world = build_world(seed)
    prepare_output(root)
    text_bytes = json_bytes = 0
    with ExitStack() as stack:
        jsonl = None
        if formats != "text":
            jsonl = stack.enter_context(open(root / "stories.jsonl", "wb", buffering=1 << 20))
        for number, story in enumerate(generate_stories(count, seed, world)):
            data = render_text(story).encode("utf-8")
            text_bytes += len(data)
            if formats != "jsonl":
                path = text_path(root, story.id, number)
                if number % FILES_PER_FOLDER == 0:
                    path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            if jsonl is not None:
                record = render_json(story).encode("utf-8")
                json_bytes += len(record)
                jsonl.write(record)
    queries = make_queries(seed, world, QUERY_COUNT)
    lines = "".join(f"q{number:03d}\t{text}\n" for number, text in enumerate(queries, 1))
    (root / "queries.tsv").write_text(lines, encoding="utf-8", newline="\n")
    manifest = {"generator": "make_corpus.py", "stories": count, "seed": seed, "format": formats}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return text_bytes, json_bytes


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """The command line: N, --out, --seed, --format."""
    parser = argparse.ArgumentParser(
        prog="make_corpus.py",
        description=__doc__.split("\n\n", 1)[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("count", metavar="N", type=int, help="how many stories to write")
    parser.add_argument("--out", type=Path, help="output folder (default: benchmarks/corpus/N)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default: 1)")
    parser.add_argument("--format", choices=("text", "jsonl", "both"), default="both", help="default: both")
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("N must be zero or more")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Write the corpus and print a one-line summary to stderr."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    root: Path = args.out or BENCHMARKS_DIR / "corpus" / str(args.count)
    started = time.perf_counter()
    text_bytes, json_bytes = write_corpus(root, args.count, args.seed, args.format)
    seconds = time.perf_counter() - started
    average = text_bytes / args.count if args.count else 0
    print(
        f"make_corpus: {args.count} stories, {text_bytes:,} bytes of text "
        f"({average:,.0f} per story), {json_bytes:,} bytes of JSON Lines, "
        f"{seconds:.1f} s -> {root}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
