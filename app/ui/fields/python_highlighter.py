"""Python syntax colours for the code editor: keywords, builtins, strings, comments,
numbers and decorators, with triple-quoted strings carried across lines."""

from __future__ import annotations

import builtins
import keyword
import re

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from app.ui.theme import is_dark

_LIGHT = {"keyword": "#1864ab", "builtin": "#862e9c", "string": "#2b8a3e",
          "comment": "#868e96", "number": "#c2255c", "decorator": "#e67700",
          "template": "#e8590c"}
_DARK = {"keyword": "#74c0fc", "builtin": "#da77f2", "string": "#8ce99a",
         "comment": "#909296", "number": "#faa2c1", "decorator": "#ffd43b",
         "template": "#ffa94d"}

_WORDS = r"\b(?:{})\b"
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("keyword", re.compile(_WORDS.format("|".join(keyword.kwlist + keyword.softkwlist)))),
    ("builtin", re.compile(_WORDS.format("|".join(
        name for name in dir(builtins) if not name.startswith("_"))))),
    ("number", re.compile(r"\b(?:0[xXoObB][0-9a-fA-F_]+|\d[\d_]*(?:\.\d*)?(?:[eE][+-]?\d+)?j?)")),
    ("decorator", re.compile(r"^\s*@[\w.]+")),
)
_PREFIX = r"(?:(?<!\w)[rRbBuUfF]{1,2})?"
# Strings and comments last: what they cover is theirs, whatever matched inside.
_STRING_OR_COMMENT = re.compile(
    r"(?P<comment>\#.*$)|(?P<string>" + _PREFIX +
    r"""(?:'(?:\\.|[^'\\])*'?|"(?:\\.|[^"\\])*"?))""")
_TRIPLE = re.compile(_PREFIX + r"""('''|\"\"\")""")
LONGEST_LINE = 10_000
"""Longer lines (data, not code a person wrote) are left plain: highlighting stays fast."""
_IN_SINGLE, _IN_DOUBLE = 1, 2


class PythonHighlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument):
        super().__init__(document)
        palette = _DARK if is_dark() else _LIGHT
        self.formats: dict[str, QTextCharFormat] = {}
        for name, colour in palette.items():
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(colour))
            if name == "keyword":
                fmt.setFontWeight(QFont.Weight.Bold)
            if name == "comment":
                fmt.setFontItalic(True)
            self.formats[name] = fmt

    def highlightBlock(self, text: str) -> None:
        if len(text) > LONGEST_LINE:
            self.setCurrentBlockState(self.previousBlockState())
            return
        for name, pattern in _RULES:
            for match in pattern.finditer(text):
                self.setFormat(match.start(), match.end() - match.start(), self.formats[name])
        self._templates(text)
        self.setCurrentBlockState(0)
        start = self._continue_triple(text)
        triple = _TRIPLE.search(text, start)
        while start < len(text):
            if triple and triple.start() < start:
                triple = _TRIPLE.search(text, start)
            single = _STRING_OR_COMMENT.search(text, start)
            if triple and (single is None or triple.start() <= single.start()):
                start = self._triple_from(text, triple.start(), triple.end(), triple.group(1))
                continue
            if single is None:
                break
            kind = "comment" if single.group("comment") else "string"
            self.setFormat(single.start(), single.end() - single.start(), self.formats[kind])
            start = max(single.end(), single.start() + 1)

    def _templates(self, text: str) -> None:
        """``{{ … }}``: the engine fills these in before the code runs."""
        start = text.find("{{")
        while start >= 0:
            end = text.find("}}", start + 2)
            if end < 0:
                return
            self.setFormat(start, end + 2 - start, self.formats["template"])
            start = text.find("{{", end + 2)

    def _continue_triple(self, text: str) -> int:
        """Where this line's own tokens begin, after closing a string an earlier line opened."""
        state = self.previousBlockState()
        if state not in (_IN_SINGLE, _IN_DOUBLE):
            return 0
        return self._triple_from(text, 0, 0, "'''" if state == _IN_SINGLE else '"""')

    def _triple_from(self, text: str, begin: int, body: int, quote: str) -> int:
        end = text.find(quote, body)
        if end < 0:
            self.setFormat(begin, len(text) - begin, self.formats["string"])
            self.setCurrentBlockState(_IN_SINGLE if quote == "'''" else _IN_DOUBLE)
            return len(text)
        self.setFormat(begin, end + 3 - begin, self.formats["string"])
        return end + 3
