"""_elixir: compiled regexes in module attributes, over Elixir snippets (pure) and a real tree."""

from __future__ import annotations

import textwrap

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _elixir


def found(source):
    return [(f["line"], f["attribute"]) for f in _elixir.scan_source(textwrap.dedent(source))]


@pytest.mark.parametrize("source, expected", [
    ("@re ~r/foo/\n", [(1, "@re")]),
    ("@re ~r/foo/iu\n", [(1, "@re")]),
    ("@re ~r|a/b|\n", [(1, "@re")]),
    ('@re ~r"a/b"\n', [(1, "@re")]),
    ("@re ~r'a'\n", [(1, "@re")]),
    ("@re ~r(a|b)\n", [(1, "@re")]),
    ("@re ~r[a]\n", [(1, "@re")]),
    ("@re ~r{a}\n", [(1, "@re")]),
    ("@re ~r<a>\n", [(1, "@re")]),
    ("@re ~R/\\d+#{x}/\n", [(1, "@re")]),
    ('@re ~r"""\n  a # b\n  """x\n@other 1\n', [(1, "@re")]),
    ('@re Regex.compile!("foo")\n', [(1, "@re")]),
    ('@re Regex.compile!("foo", "i")\n', [(1, "@re")]),
    ('@re Regex.compile("foo")\n', [(1, "@re")]),
    ('@re(~r/x/)\n', [(1, "@re")]),
    ('  @escaped ~r/a\\/b/\n', [(1, "@escaped")]),
    # multi-line values: lists, maps, pipes, keyword lists
    ("@patterns [\n  foo: ~r/a/,\n  bar: ~r/b/\n]\n", [(1, "@patterns")]),
    ("@by_kind %{\n  a: \"x\",\n  b: ~r/b/\n}\n", [(1, "@by_kind")]),
    ('@re "a|b"\n     |> Regex.compile!()\n', [(1, "@re")]),
    ('@res Enum.map(@sources, fn s ->\n  Regex.compile!(s)\nend)\n', [(1, "@res")]),
    ('@res for s <- @sources do\n  Regex.compile!(s)\nend\n', [(1, "@res")]),
    # line numbers and several attributes
    ('defmodule A do\n  @moduledoc "A"\n  @a ~r/a/\n  @b "b"\n  @c ~r/c/\nend\n', [(3, "@a"), (5, "@c")]),
])
def test_reports_compiled_regexes(source, expected):
    assert found(source) == expected


@pytest.mark.parametrize("source", [
    '@pattern "foo|bar"\n',
    "@pattern 'foo'\n",
    '@patterns ["a", "b"]\n',
    "@flags [:caseless]\n",
    # compiled inside functions: fine
    'def re, do: ~r/foo/\n',
    'def match?(s) do\n  Regex.match?(~r/foo/, s)\nend\n',
    'def re do\n  Regex.compile!(@pattern)\nend\n',
    # reads of an attribute (at the start of a line) are not definitions
    'def x(s) do\n  @pattern\n  |> Regex.compile!()\n  |> Regex.match?(s)\nend\n',
    'def x(o) do\n  @defaults ++ [re: ~r/x/]\nend\n',
    # comments and docs
    '# @re ~r/foo/\n',
    '@pattern "x" # was: @re ~r/x/\n',
    '@doc """\nUse it like this:\n\n    @re ~r/foo/\n    Regex.compile!("x")\n"""\ndef f, do: 1\n',
    '@moduledoc """\n@re ~r/x/\n"""\n',
    '@moduledoc ~S"""\n@re ~r/x/ and #{not_code}\n"""\n',
    "@doc '''\n@re ~r/x/\n'''\n",
    '@doc "see @re ~r/x/"\n',
    '@typedoc """\n~r/x/\n"""\n',
    # strings that look like code
    '@pattern "Regex.compile!(x)"\n',
    '@pattern ~S(~r/x/)\n',
    '@pattern "#{"}"} ~r/x/"\n',
    # char literals do not open strings
    '@quote ?"\n@hash ?#\n@pattern "x"\n',
    "@spec f(String.t()) :: boolean\n",
])
def test_ignores_non_findings(source):
    assert found(source) == []


def test_string_does_not_hide_following_attribute():
    source = '@a "x\\"y"\n@b ?"\n@c ~r/c/\n@d """\n"quoted"\n"""\n@e ~r/e/\n'
    assert found(source) == [(3, "@c"), (7, "@e")]


def test_snippet_is_the_whole_definition():
    [finding] = _elixir.scan_source("@patterns [\n  ~r/a/,\n  ~r/b/\n]\ndef x, do: 1\n")
    assert finding["snippet"] == "@patterns [ ~r/a/, ~r/b/ ]"


def test_scan_path_walks_ex_and_exs_and_skips_deps(tmp_path):
    (tmp_path / "lib" / "app").mkdir(parents=True)
    (tmp_path / "deps" / "dep").mkdir(parents=True)
    (tmp_path / "lib" / "app" / "a.ex").write_text('defmodule A do\n  @re ~r/x/\nend\n')
    (tmp_path / "lib" / "b.exs").write_text('@re Regex.compile!("y")\n')
    (tmp_path / "lib" / "c.txt").write_text('@re ~r/x/\n')
    (tmp_path / "deps" / "dep" / "d.ex").write_text('@re ~r/x/\n')
    findings, files = _elixir.scan_path(str(tmp_path))
    assert files == 2
    assert [(f["file"][len(str(tmp_path)) + 1:], f["line"], f["attribute"]) for f in findings] == [
        ("lib/app/a.ex", 2, "@re"), ("lib/b.exs", 1, "@re")]
    message = _elixir.failure_message(findings)
    assert "lib/app/a.ex:2:@re" in message and ":persistent_term" in message and "raw pattern string" in message


def test_scan_path_missing(tmp_path):
    with pytest.raises(_elixir.ElixirLintError, match="does not exist"):
        _elixir.scan_path(str(tmp_path / "nope"))
