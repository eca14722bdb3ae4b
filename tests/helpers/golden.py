"""The stories of the golden index of tests/test_golden.py, and the script that wrote it (once per
format version, never again):

    cd tests && python -m helpers.golden data/golden-v1

The index is written by the release named in its folder's README and committed; test_golden.py opens it
with today's code forever after, so that a change which stops old indexes opening (a moved pickled
class, a changed block layout, a stricter unpickler) fails a test instead of a user's archive.
"""

from __future__ import annotations

import shutil
import sys
from datetime import date
from pathlib import Path

from newsindex import NewsIndex, Story
from newsindex.models import Credit

STORIES = [
    Story(
        id="albania-iran",
        headline="Albania expels two Iranian diplomats",
        published=date(2019, 10, 23),
        bylines=("Benet Koleka",),
        location="Tirana",
        source="Reuters",
        body="TIRANA (Reuters) - Albania expelled two Iranian diplomats on Wednesday, accusing them of plotting "
        "attacks.\n\nThe foreign ministry said the diplomats had damaged national security.",
        credits=(Credit("Reporting", ("Benet Koleka",)), Credit("Editing", ("David Holmes",))),
        topics=("diplomacy",),
        places=("al", "ir"),
    ),
    Story(
        id="iran-oil",
        published=date(2019, 6, 15),
        bylines=("Parisa Hafezi",),
        location="Dubai",
        source="Reuters",
        body="DUBAI (Reuters) - Iran raised oil exports in June despite sanctions, shipping data showed.\n\n"
        "Tankers loaded crude at Kharg Island through the month.",
    ),
    Story(
        id="albania-football",
        published=date(2018, 3, 1),
        location="Tirana",
        body="TIRANA (Reuters) - Albania beat Kosovo 3-1 in a friendly football match on Thursday.\n\n"
        "Fans celebrated in the streets of the capital until late.",
    ),
    Story(
        id="grain-1",
        headline="Grain ships loading at Portland",
        published=date(1987, 2, 26),
        location="Portland",
        source="Reuters",
        body="PORTLAND, Ore., Feb 26 - There were seven grain ships loading and six ships waiting to load at "
        "Portland, according to the Merchants Exchange of Portland. The ships carried wheat and corn.",
    ),
    Story(
        id="grain-1-refiled",
        headline="Grain ships loading at Portland",
        published=date(1987, 2, 26),
        location="Portland",
        source="Reuters",
        body="PORTLAND, Ore., Feb 26 - There were seven grain ships loading and six ships waiting to load at "
        "Portland, according to the Merchants Exchange of Portland. The ships carried wheat and corn.",
    ),
    Story(id="undated", body="A story with no date, no byline and no place, about harbour cranes."),
]


def main(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    news = NewsIndex.create(folder)
    news.add(STORIES)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
