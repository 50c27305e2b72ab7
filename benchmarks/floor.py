"""The floor: genanki writing the same cards' text, with no rendering at all.

    python benchmarks/floor.py CORPUS_DIR OUT.apkg
"""

from __future__ import annotations

import sys
from pathlib import Path

import genanki

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import cards_of  # noqa: E402

MODEL = genanki.Model(1607392319, "Floor", fields=[{"name": "Front"}, {"name": "Back"}],
                      templates=[{"name": "Card 1", "qfmt": "{{Front}}",
                                  "afmt": "{{FrontSide}}<hr id=answer>{{Back}}"}])


def main(corpus: Path, out: Path) -> None:
    decks: dict[str, genanki.Deck] = {}
    for deck, front, back in cards_of(corpus):
        if deck not in decks:
            decks[deck] = genanki.Deck(abs(hash(deck)) % (1 << 31), deck)
        decks[deck].add_note(genanki.Note(model=MODEL, fields=[front, back],
                                          guid=genanki.guid_for(front)))
    media = sorted(str(p) for p in (corpus / "media").glob("*"))
    genanki.Package(list(decks.values()), media_files=media).write_to_file(str(out))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
