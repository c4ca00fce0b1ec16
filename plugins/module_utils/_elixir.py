# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: find compiled regexes stored in Elixir module attributes.

Elixir 1.18+ refuses to inject compiled regexes (they hold a NIF reference) from module attributes
into function bodies. A laptop with cached BEAM files compiles; a fresh Docker build fails. This is
a lexer, not a parser: it blanks out comments, strings, charlists, heredocs and sigils (so a
``~r`` inside ``@doc \"\"\"...\"\"\"`` or a comment is never reported), remembers where the regex
sigils start, then reads each ``@name value`` definition to the end of its expression.
"""

from __future__ import annotations

import os
import re

DEFAULT_EXCLUDE = ["_build", "deps", "node_modules", ".git", ".elixir_ls", "cover"]
EXTENSIONS = (".ex", ".exs")

_SIGIL_DELIMITERS = {"/": "/", "|": "|", '"': '"', "'": "'", "(": ")", "[": "]", "{": "}", "<": ">"}
_REGEX_SIGILS = ("r", "R")
_IDENT_CHAR = re.compile(r"[A-Za-z0-9_]")
_ATTRIBUTE = re.compile(r"@([a-z_][A-Za-z0-9_]*[?!]?)")
_UPPER_SIGIL = re.compile(r"[A-Z][A-Z0-9]*")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*[?!]?")
# A read of an attribute followed by a binary operator (``@opts ++ extra``), not a definition.
_BINARY_OP = re.compile(r"(\|>|<>|\+\+|--|===?|!==?|=~|<=|>=|&&&?|\|\|\|?|::|\.\.|->|<-|\\\\|[=+\-*/<>|.])(\s|$)|(in|and|or|when|not in)\b")
_COMPILE_CALL = re.compile(r"(?<![A-Za-z0-9_.])Regex\s*\.\s*(compile!?|recompile!?)(?![A-Za-z0-9_?!])")
# A line ending in one of these continues the expression on the next line.
_TRAILING_OP = re.compile(r"(,|\|>|<>|\+\+|--|=|\\\\|\|\||&&|->|\+|-|\*|/|\||\.|\bwhen|\band|\bor|\bin)\s*$")
_LEADING_OP = re.compile(r"^\s*(\|>|<>|\+\+|--|\|\||&&|\.(?!\.)|\bwhen\b|\band\b|\bor\b)")


class ElixirLintError(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.message = message


class _Masker:
    """Blank out everything that is not code, keeping offsets and newlines.

    Strings, charlists, sigils and char literals become ``_`` (so a value is still visible
    after ``@doc``); comments become spaces. Offsets of top-level ``~r``/``~R`` sigils are kept.
    """

    def __init__(self, text):
        self.text = text
        self.n = len(text)
        self.out = list(text)
        self.regex_sigils = []

    def blank(self, start, end, fill="_"):
        for k in range(start, min(end, self.n)):
            if self.out[k] != "\n":
                self.out[k] = fill

    def code(self, i, in_interpolation=False):
        """Scan code from i; inside an interpolation stop after the closing brace."""
        text, n = self.text, self.n
        depth = 0
        while i < n:
            c = text[i]
            if in_interpolation:
                if c == "{":
                    depth += 1
                elif c == "}":
                    if depth == 0:
                        return i + 1
                    depth -= 1
            if c == "#":
                end = text.find("\n", i)
                end = n if end < 0 else end
                self.blank(i, end, " ")
                i = end
            elif c in "\"'":
                if text.startswith(c * 3, i):
                    end = self.heredoc(i + 3, c * 3, interpolate=True)
                else:
                    end = self.quoted(i + 1, c, interpolate=True)
                self.blank(i, end)
                i = end
            elif c == "~" and i + 1 < n and text[i + 1].isalpha():
                end = self.sigil(i, record=not in_interpolation)
                if end is None:
                    i += 1
                else:
                    self.blank(i, end)
                    i = end
            elif c == "?" and i + 1 < n and (i == 0 or not _IDENT_CHAR.match(text[i - 1])) and not text[i + 1].isspace():
                end = i + 3 if text[i + 1] == "\\" else i + 2
                self.blank(i, end)
                i = end
            else:
                i += 1
        return n

    def quoted(self, i, term, interpolate):
        text, n = self.text, self.n
        while i < n:
            c = text[i]
            if c == "\\":
                i += 2
            elif interpolate and text.startswith("#{", i):
                i = self.code(i + 2, in_interpolation=True)
            elif c == term:
                return i + 1
            else:
                i += 1
        return n

    def heredoc(self, i, term, interpolate):
        text, n = self.text, self.n
        # The content starts on the next line; the terminator stands alone at the start of a line.
        nl = text.find("\n", i)
        i = n if nl < 0 else nl + 1
        line_start = True
        while i < n:
            if line_start:
                k = i
                while k < n and text[k] in " \t":
                    k += 1
                if text.startswith(term, k):
                    return k + 3
                line_start = False
            c = text[i]
            if c == "\\":
                line_start = text[i + 1:i + 2] == "\n"
                i += 2
            elif interpolate and text.startswith("#{", i):
                i = self.code(i + 2, in_interpolation=True)
            elif c == "\n":
                line_start = True
                i += 1
            else:
                i += 1
        return n

    def sigil(self, i, record):
        """End offset of the sigil starting at i (``~``), or None when it is not a sigil."""
        text, n = self.text, self.n
        j = i + 1
        if text[j].islower():
            name = text[j]
            j += 1
        else:
            m = _UPPER_SIGIL.match(text, j)
            if not m:
                return None
            name = m.group(0)
            j = m.end()
        if j >= n:
            return None
        interpolate = name.islower()
        if text.startswith('"""', j) or text.startswith("'''", j):
            end = self.heredoc(j + 3, text[j] * 3, interpolate)
        elif text[j] in _SIGIL_DELIMITERS:
            end = self.quoted(j + 1, _SIGIL_DELIMITERS[text[j]], interpolate)
        else:
            return None
        while end < n and text[end].isalpha():  # modifiers, e.g. ~r/x/iu
            end += 1
        if record and name in _REGEX_SIGILS:
            self.regex_sigils.append(i)
        return end


def mask(text):
    """Return (masked text, offsets of regex sigils) for Elixir source ``text``."""
    masker = _Masker(text)
    masker.code(0)
    return "".join(masker.out), masker.regex_sigils


def _line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def _is_statement_start(masked, at):
    k = at - 1
    while k >= 0 and masked[k] in " \t\r":
        k -= 1
    return k < 0 or masked[k] in "\n;"


def _continues(masked, nl):
    """Whether the expression goes on after the newline at offset nl (depth 0)."""
    line_start = masked.rfind("\n", 0, nl) + 1
    if _TRAILING_OP.search(masked[line_start:nl]):
        return True
    k = nl + 1
    while k < len(masked):
        end = masked.find("\n", k)
        end = len(masked) if end < 0 else end
        line = masked[k:end]
        if line.strip():
            return bool(_LEADING_OP.match(line))
        k = end + 1
    return False


def _value_end(masked, i):
    """End offset of the expression that starts at i."""
    n = len(masked)
    depth = 0
    while i < n:
        c = masked[i]
        if c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth < 0:
                return i
        elif (c.isalpha() or c == "_") and (i == 0 or not _IDENT_CHAR.match(masked[i - 1])):
            m = _WORD.match(masked, i)
            word = m.group(0)
            after = masked[m.end():m.end() + 1]
            before = masked[i - 1] if i else ""
            if after != ":" and before not in ":.":
                if word in ("do", "fn"):
                    depth += 1
                elif word == "end":
                    depth -= 1
                    if depth < 0:
                        return i
            i = m.end()
            continue
        elif c == ";" and depth == 0:
            return i
        elif c == "\n" and depth == 0 and not _continues(masked, i):
            return i
        i += 1
    return n


def _snippet(text, start, end, limit=120):
    snippet = " ".join(text[start:end].split())
    return snippet if len(snippet) <= limit else snippet[:limit - 3] + "..."


def scan_source(text):
    """Findings in one source text: list of dicts with line, attribute, snippet."""
    masked, sigils = mask(text)
    findings = []
    for m in _ATTRIBUTE.finditer(masked):
        if not _is_statement_start(masked, m.start()):
            continue
        name = m.group(1)
        rest = m.end()
        if rest < len(masked) and masked[rest] == "(":
            value_start = rest
        else:
            k = rest
            while k < len(masked) and masked[k] in " \t":
                k += 1
            if k == rest or k >= len(masked) or masked[k] in "\r\n;)]}," or _BINARY_OP.match(masked, k):
                continue  # a read of the attribute, not a definition
            value_start = k
        value_end = _value_end(masked, value_start)
        has_sigil = any(value_start <= s < value_end for s in sigils)
        if has_sigil or _COMPILE_CALL.search(masked, value_start, value_end):
            findings.append(dict(
                line=_line_of(text, m.start()),
                attribute="@" + name,
                snippet=_snippet(text, m.start(), value_end),
            ))
    return findings


def source_files(path, exclude=None):
    """The .ex/.exs files under path (or path itself), sorted; skips excluded directory names."""
    exclude = set(DEFAULT_EXCLUDE if exclude is None else exclude)
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise ElixirLintError("path %s does not exist: point path at the Elixir project (or a .ex/.exs file)" % path)
    found = []
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in exclude)
        found.extend(os.path.join(root, f) for f in files if f.endswith(EXTENSIONS))
    return sorted(found)


def scan_path(path, exclude=None):
    """Return (findings with ``file``, number of files scanned)."""
    files = source_files(path, exclude)
    findings = []
    for name in files:
        try:
            with open(name, "rb") as handle:
                text = handle.read().decode("utf-8", errors="replace")
        except (IOError, OSError) as exc:
            raise ElixirLintError("cannot read %s: %s" % (name, exc))
        for finding in scan_source(text):
            finding = dict(file=name, **finding)
            findings.append(finding)
    return findings, len(files)


def failure_message(findings):
    where = ", ".join("%s:%d:%s" % (f["file"], f["line"], f["attribute"]) for f in findings)
    return (
        "%d compiled regex(es) stored in module attributes: %s. Elixir 1.18+ cannot inject a compiled Regex "
        "(a NIF reference) from a module attribute into a function, so a fresh build (Docker) fails even when the "
        "laptop compiles from cached BEAM files. Fix: store the raw pattern string in the attribute "
        "(@pattern \"...\"), compile it at runtime with Regex.compile!/2 inside the function, and cache the "
        "compiled regex with :persistent_term if it is hot." % (len(findings), where)
    )
