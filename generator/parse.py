"""Markdown text to `Card`s with positions. No HTML is produced here.

A file is a deck; each `## ` heading starts a card whose back runs to the next heading.
Structure comes from markdown-it's block tokens, so a `## ` inside a code block, or a
setext heading, is read the way the user's editor previews it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath


from markdown_it.token import Token

from generator import markdown
from generator.diagnostics import Diagnostic, short
from generator.model import Card, Kind, RenderEnv, SourcePos, nfc

CLOZE_RE = re.compile(r"\{\{c\d+::")
META_RE = re.compile(r"^\s*<!--\s*(id|tags|type)\s*:\s*(.*?)\s*-->\s*$")
KINDS = {"basic": Kind.BASIC, "reversed": Kind.REVERSED, "reverse": Kind.REVERSED,
         "cloze": Kind.CLOZE}
# A `?` line inside these is content, not the end of a longer front.
_PROTECTED = {"fence", "code_block", "html_block", "math_block", "bullet_list_open",
              "ordered_list_open", "blockquote_open", "table_open"}


def _map(token: Token) -> list[int]:
    """A block token's lines (markdown-it gives every block token its map)."""
    return token.map or [0, 0]


def deck_prefix(path: str) -> str:
    """Sub-folders of the source folder become parent decks."""
    parts = PurePosixPath(path).parts[:-1]
    return "".join(f"{part}::" for part in parts)


@dataclass
class CardTokens:
    """A card and the parsed Markdown it came from, so it is rendered without parsing again.

    Internal to one process: markdown-it's tokens are mutable and never leave `compile`.
    `back`/`extra` are None when the tokens cannot be cut at the card's `?` line (a `?`
    glued to a paragraph); the card's text is then parsed on its own.
    """

    card: Card
    heading: Token
    extra: list[Token] | None
    back: list[Token] | None


def parse_file(path: str, text: str) -> tuple[tuple[Card, ...], tuple[Diagnostic, ...]]:
    """Cards of one source file; `path` is relative to the source folder."""
    found, diagnostics = parse_tokens(path, text)
    return tuple(c.card for c in found), diagnostics


def parse_tokens(path: str, text: str, env: RenderEnv = RenderEnv()
                 ) -> tuple[list[CardTokens], tuple[Diagnostic, ...]]:
    """Like `parse_file`, keeping each card's tokens; `env` reaches markdown-it's rules."""
    diagnostics: list[Diagnostic] = []
    tokens = markdown.parse(text, env)
    lines = text.split("\n")

    meta: dict = {}
    if tokens and tokens[0].type == "front_matter":
        meta, problem = _front_matter(tokens[0].content)
        if problem:
            diagnostics.append(Diagnostic(SourcePos(path, 1), "E106", problem))
    elif _FRONT_MATTER_START.match(text):
        diagnostics.append(Diagnostic(SourcePos(path, 1), "E106", (
            "front matter opened here is never closed with a '---' line, so its deck name "
            "and tags are not read: add the closing '---'")))

    headings = [(i, t) for i, t in enumerate(tokens)
                if t.type == "heading_open" and t.level == 0 and t.tag in ("h1", "h2")]
    title = next((tokens[i + 1].content.strip() for i, t in headings if t.tag == "h1"), None)
    name = meta.get("deck") if isinstance(meta.get("deck"), str) and meta["deck"].strip() else None
    # `a::` or `::` would make Anki invent a deck named 'blank'
    own = "::".join(p.strip() for p in (name or title or "").split("::") if p.strip())
    deck = nfc(deck_prefix(path) + (own or PurePosixPath(path).stem))  # a Mac's NFD names

    file_tags, problems = _tags(meta.get("tags", ()))
    diagnostics += [Diagnostic(SourcePos(path, 1), "E106", p) for p in problems]
    file_kind = KINDS.get(str(meta.get("type", "basic")).lower())
    if file_kind is None:
        diagnostics.append(Diagnostic(SourcePos(path, 1), "E106",
                                      f"unknown card type '{_quoted(meta.get('type'))}'; "
                                      "expected 'basic', 'reversed' or 'cloze'"))
        file_kind = Kind.BASIC

    protected: set[int] = set()
    code: set[int] = set()
    for token in tokens:
        if token.type in _PROTECTED and token.map and token.level == 0:
            protected.update(range(_map(token)[0], _map(token)[1]))
            if token.type in ("fence", "code_block"):
                code.update(range(_map(token)[0], _map(token)[1]))

    diagnostics += structure(path, tokens, lines)
    cards = []
    for n, (i, token) in enumerate(headings):
        if token.tag != "h2":
            continue
        following = headings[n + 1][0] if n + 1 < len(headings) else len(tokens)
        end = _map(tokens[following])[0] if following < len(tokens) else len(lines)
        card, found = _card(path, deck, file_kind, file_tags, tokens[i + 1].content.strip(),
                            token.map, end, lines, protected, code, typed="type" in meta)
        if following < len(tokens) and tokens[following].markup in ("=", "-"):
            found = [_no_back_but_setext(d, tokens[following], lines) for d in found]
        diagnostics += found
        if card is not None:
            cards.append(_with_tokens(card, tokens, i, following))
    return cards, tuple(diagnostics)


_FRONT_MATTER_START = re.compile(r"---[ \t]*\n(?:[ \t]*\n)*[A-Za-z_][\w-]*[ \t]*:")
_HEADING_LINE = re.compile(r" {0,3}#{1,2}(?:[ \t]|$)")
_CLOSERS = {"<!--": "-->", "<?": "?>", "<![CDATA[": "]]>", "<pre": "</pre>",
            "<script": "</script>", "<style": "</style>", "<textarea": "</textarea>"}


def structure(path: str, tokens: list[Token], lines: list[str]) -> list[Diagnostic]:
    """What the block structure does to the cards that the author may not see: a construct
    left open that swallows the headings below it (E111), nesting too deep for the parser
    (E114), text that belongs to no card (W112), a setext heading that starts a card
    (W113). Every line of a file ends up in a card, in the title, front matter or a
    comment, or has a finding."""
    found = []
    deepest = max((t for t in tokens if t.map), key=lambda t: t.level, default=None)
    if deepest is not None and deepest.level >= markdown.MAX_NESTING - 1:
        found.append(Diagnostic(SourcePos(path, _map(deepest)[0] + 1), "E114", (
            f"lists or quotes nested deeper than {markdown.MAX_NESTING // 2} levels here: "
            "Markdown stops reading at this depth, so the rest of the file would be lost; "
            "nest less deeply")))
    titled = inside = False
    outside: list[Token] = []

    def leave() -> None:
        if outside:
            first, last = _map(outside[0])[0], max(_map(t)[1] for t in outside)
            found.append(Diagnostic(SourcePos(path, first + 1), "W112", (
                f"text outside any card (lines {first + 1}-{last}) is left out of the deck: "
                "start a card with a '## ' heading above it, or move it into one")))
            outside.clear()

    for token in tokens:
        if token.level or not token.map or token.type.endswith("_close") or \
                token.type in ("inline", "front_matter"):
            continue
        found += _runaway(path, token, lines)
        if token.type == "heading_open" and token.tag in ("h1", "h2"):
            if token.markup in ("=", "-"):
                found.append(_setext(path, token, lines))
            if token.tag == "h2":
                leave()
                inside = True
                continue
            inside = False
            if not titled:  # the first `# ` names the deck
                titled = True
                leave()
                continue
        if not inside and not (token.type == "html_block" and _comment(token.content)):
            outside.append(token)
    leave()
    if not any(t.type == "heading_open" and t.tag == "h2" and not t.level for t in tokens):
        found = [d for d in found if d.code != "W112"]  # W108 says it for the whole file
    return found


def _comment(html: str) -> bool:
    return html.strip().startswith("<!--") and html.strip().endswith("-->")


def _runaway(path: str, token: Token, lines: list[str]) -> list[Diagnostic]:
    """E111 for a fence, raw HTML or display formula that takes in the headings below it."""
    if token.type not in ("fence", "html_block", "math_block"):
        return []
    start, end = _map(token)
    opener = lines[start].strip()
    if token.type == "fence":
        marker = token.markup
        last = lines[end - 1].strip() if end - 1 > start else ""
        if last and set(last) == {marker[0]} and len(last) >= len(marker):
            return []  # closed: a heading inside it is code, on purpose
        what, fix = f"code fence ('{marker}')", f"close it with '{marker}'"
    elif token.type == "math_block":
        what, fix = "display formula ('$$')", "close it with '$$' before the heading"
    else:
        closer = next((c for o, c in _CLOSERS.items() if opener.lower().startswith(o)), "")
        what = f"raw HTML ('{short(opener, 20)}')"
        fix = f"close it with '{closer}'" if closer else "put a blank line after the HTML"
    hidden = [n for n in range(start + 1, end) if _HEADING_LINE.match(lines[n])]
    if not hidden:
        return []
    count = f"{len(hidden)} heading{'' if len(hidden) == 1 else 's'}"
    return [Diagnostic(SourcePos(path, start + 1), "E111", (
        f"the {what} opened here runs to line {end}, so it hides {count} below it (the "
        f"first: '{short(lines[hidden[0]].strip(), 40)}' at line {hidden[0] + 1}): {fix}"))]


def _no_back_but_setext(found: Diagnostic, heading: Token, lines: list[str]) -> Diagnostic:
    """E102 where the back is there, but became the next card's heading."""
    if found.code != "E102":
        return found
    under = _map(heading)[1] - 1
    text = short(" ".join(lines[n].strip() for n in range(_map(heading)[0], under)), 40)
    return Diagnostic(found.pos, "E102", (
        f"card has no back: its text '{text}' became a heading of its own, because of the "
        f"'{lines[under].strip()}' line under it (line {under + 1}); put a blank line "
        f"before '{lines[under].strip()}'"))


def _setext(path: str, token: Token, lines: list[str]) -> Diagnostic:
    under = _map(token)[1] - 1
    kind = "'## ' heading, which starts a card" if token.tag == "h2" else "'# ' heading"
    text = short(" ".join(lines[n].strip() for n in range(_map(token)[0], under)), 40)
    return Diagnostic(SourcePos(path, under + 1), "W113", (
        f"the '{lines[under].strip()}' line under '{text}' makes that text a {kind} (a "
        "setext heading); put a blank line before it to draw a line instead"))


def _with_tokens(card: Card, tokens: list[Token], heading: int, following: int) -> CardTokens:
    """Cut the card's blocks out of the file's token stream at top-level boundaries. When
    the text's lines and the blocks disagree (a `?` or the first line of the answer glued
    to a paragraph), the card is left to be parsed from its own text."""
    fallback = CardTokens(card, tokens[heading + 1], None, None)
    blocks = [k for k in range(heading + 3, following)
              if tokens[k].level == 0 and tokens[k].map]
    first = (card.front_line or card.back_line) - 1  # 0-based, past the metadata comments
    if any(_map(tokens[k])[0] < first < _map(tokens[k])[1] for k in blocks):
        return fallback
    body_start = next((k for k in blocks if _map(tokens[k])[0] >= first), following)
    if not card.split_line:
        return CardTokens(card, tokens[heading + 1], None, tokens[body_start:following])
    split = next((k for k in blocks if tokens[k].type == "paragraph_open"
                  and tokens[k].map == [card.split_line - 1, card.split_line]), None)
    after = next((k for k in blocks if _map(tokens[k])[0] >= card.split_line), following)
    if split is None or (after < following and _map(tokens[after])[0] != card.back_line - 1):
        return fallback
    extra = tokens[body_start:split] if card.front_line else None
    return CardTokens(card, tokens[heading + 1], extra, tokens[split + 3 : following])


FRONT_MATTER_LIMIT = 8 * 1024  # bytes of YAML: 'deck', 'tags' and 'type' need far less
_DEPTH_LIMIT = 8  # lists or mappings inside each other: 'tags: [a, b]' is two
_QUOTED = 200  # characters of a user's value quoted in a message


def _quoted(value) -> str:
    """A value from the front matter as a message quotes it: on one line, cut short."""
    return short(str(value), _QUOTED)


def _front_matter(content: str) -> tuple[dict, str | None]:
    """The front matter's mapping, or why it cannot be read. Its size, nesting, anchors and
    aliases are checked first: a few hundred bytes of aliases (the "billion laughs") would
    expand to gigabytes."""
    import yaml  # only files with front matter pay for it

    size = len(content.encode())
    if size > FRONT_MATTER_LIMIT:
        return {}, (f"front matter is {size:,} bytes, over the limit of "
                    f"{FRONT_MATTER_LIMIT // 1024} KB (plenty for 'deck', 'tags' and "
                    "'type'); shorten it")
    try:
        depth = 0
        for event in yaml.parse(content, Loader=yaml.SafeLoader):
            # the front matter starts on the file's line 2
            line = (event.start_mark.line if event.start_mark else 0) + 2
            anchor = getattr(event, "anchor", None)
            if isinstance(event, yaml.AliasEvent) or anchor:
                sign = "*" if isinstance(event, yaml.AliasEvent) else "&"
                return {}, (f"front matter uses the YAML {'alias' if sign == '*' else 'anchor'}"
                            f" '{sign}{_quoted(anchor or '')}' (line {line}); anchors and "
                            "aliases are not allowed here: write each value out")
            if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                depth += 1
                if depth > _DEPTH_LIMIT:
                    return {}, (f"front matter nests lists or mappings more than "
                                f"{_DEPTH_LIMIT} levels deep (line {line})")
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                depth -= 1
        data = yaml.safe_load(content)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem_mark", None)
        where = f" (line {problem.line + 2})" if problem else ""
        return {}, f"front matter is not valid YAML{where}"
    if data is None:
        return {}, None
    if not isinstance(data, dict):
        return {}, "front matter must be a mapping of 'key: value' lines"
    return data, None


def _tags(value) -> tuple[tuple[str, ...], list[str]]:
    """Tags from `tags: a b` or `tags: [a, b]`; a tag cannot hold a space in Anki."""
    if isinstance(value, str):
        return tuple(value.split()), []
    if not isinstance(value, (list, tuple)):
        return (), [f"tags must be a list or a space-separated string, not "
                    f"'{_quoted(value)}'"]
    tags, problems = [], []
    for tag in value:
        text = "" if tag is None or isinstance(tag, (dict, list)) else str(tag).strip()
        if not text:
            problems.append(f"empty tag '{_quoted(tag)}' in 'tags'")
        elif any(c.isspace() for c in text):
            problems.append(f"tag '{_quoted(text)}' contains a space; Anki tags are single "
                            f"words (did you mean '{_quoted('_'.join(text.split()))}'?)")
        else:
            tags.append(text)
    return tuple(tags), problems


def _card(path, deck, kind, file_tags, heading, heading_map, end, lines, protected, code,
          typed=False):
    """One card from its heading and the lines up to `end` (0-based, exclusive)."""
    diagnostics = []
    pos = SourcePos(path, heading_map[0] + 1)
    first = heading_map[1]

    tags, explicit_id = list(file_tags), None
    while first < end and (m := META_RE.match(lines[first])):
        key, value = m.group(1), m.group(2)
        where = SourcePos(path, first + 1)
        if key == "id":
            if not value or any(c.isspace() for c in value):
                diagnostics.append(Diagnostic(where, "E105", f"invalid id '{short(value, 80)}'"))
            else:
                explicit_id = value
        elif key == "tags":
            tags += value.split()
        elif (chosen := KINDS.get(value.lower())) is not None:
            kind, typed = chosen, True
        else:
            diagnostics.append(Diagnostic(where, "E105", f"unknown card type '{short(value, 80)}'; "
                                          "expected 'basic', 'reversed' or 'cloze'"))
        first += 1

    for n in range(first, end):
        if "<!--" in lines[n] and n not in code and META_RE.match(lines[n]):
            diagnostics.append(Diagnostic(SourcePos(path, n + 1), "W110", (
                f"'{short(lines[n].strip(), 80)}' is not right under its heading, so it is not read "
                "as the card's metadata (it stays in the card, hidden); move it up")))
    split = next((n for n in range(first, end)
                  if lines[n].strip() == "?" and n not in protected), None)
    extra_front = _block(lines[first:split]) if split is not None else ""
    back_start = split + 1 if split is not None else first
    back = _block(lines[back_start:end])
    front = heading + ("\n\n" + extra_front if extra_front else "")

    def clozes_in(start: int, stop: int) -> bool:
        # not in a code block: highlighted, Anki sees no cloze there (it is code shown)
        return any(n not in code and CLOZE_RE.search(lines[n]) for n in range(start, stop))

    if CLOZE_RE.search(heading) or (split is not None and clozes_in(first, split)) or (
            not typed and clozes_in(back_start, end)):
        kind = Kind.CLOZE  # a cloze in the answer too: the heading is its title

    if not heading and not extra_front:
        diagnostics.append(Diagnostic(pos, "E101", "card has no front"))
        return None, diagnostics
    if kind is Kind.CLOZE and not CLOZE_RE.search(front) and not CLOZE_RE.search(back):
        diagnostics.append(Diagnostic(pos, "E107", "cloze card has no '{{c1::...}}'"))
        return None, diagnostics
    if not back and kind is not Kind.CLOZE:
        diagnostics.append(Diagnostic(pos, "E102", "card has no back"))
        return None, diagnostics
    return Card(pos=pos, deck=deck, kind=kind, front=front, back=back,
                tags=tuple(dict.fromkeys(tags)), explicit_id=explicit_id,
                back_line=back_start + _leading_blank(lines[back_start:end]) + 1,
                front_line=first + _leading_blank(lines[first:end]) + 1 if extra_front else 0,
                meta_line=heading_map[1] + 1,
                split_line=split + 1 if split is not None else 0), diagnostics


def _leading_blank(lines) -> int:
    n = 0
    while n < len(lines) and not lines[n].strip():
        n += 1
    return n


def _block(lines) -> str:
    return "\n".join(lines).strip("\n").rstrip()
