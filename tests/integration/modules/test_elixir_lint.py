"""elixir_lint driven through ansible on a real source tree written by the test."""

from __future__ import annotations

from tests.support.ansible import run_module

BAD = '''defmodule App.Actors do
  @moduledoc """
  Patterns live in @government_source; never store ~r/.../ here.
  """

  @government_source "\\\\bgovernment\\\\b"
  @patterns [
    council: ~r/council/i,
    minister: ~r{minister}
  ]

  def government?(text), do: Regex.match?(compiled(), text)

  defp compiled do
    Regex.compile!(@government_source, "i")
  end
end
'''

GOOD = '''defmodule App.Good do
  # @re ~r/old/ was replaced by a runtime compile
  @source "good"
  def re, do: :persistent_term.get({__MODULE__, :re}, nil) || Regex.compile!(@source)
end
'''


def write_tree(root):
    (root / "lib" / "app").mkdir(parents=True)
    (root / "lib" / "app" / "actors.ex").write_text(BAD)
    (root / "lib" / "app" / "good.ex").write_text(GOOD)
    (root / "test").mkdir()
    (root / "test" / "actors_test.exs").write_text('defmodule ActorsTest do\n  @re Regex.compile!("x")\nend\n')


def test_findings_fail_with_file_line_attribute_and_fix(tmp_path):
    write_tree(tmp_path)
    result = run_module("elixir_lint", {"path": str(tmp_path)})
    assert result.get("failed") is True
    assert result["changed"] is False
    assert [(f["file"], f["line"], f["attribute"]) for f in result["findings"]] == [
        (str(tmp_path / "lib/app/actors.ex"), 7, "@patterns"),
        (str(tmp_path / "test/actors_test.exs"), 2, "@re"),
    ]
    assert result["files_scanned"] == 3
    assert "lib/app/actors.ex:7:@patterns" in result["msg"]
    assert "raw pattern string" in result["msg"] and ":persistent_term" in result["msg"]


def test_findings_reported_without_failing_in_check_mode(tmp_path):
    write_tree(tmp_path)
    result = run_module("elixir_lint", {"path": str(tmp_path / "lib"), "fail_on_findings": False}, check=True)
    assert not result.get("failed")
    assert [f["attribute"] for f in result["findings"]] == ["@patterns"]
    assert result["findings"][0]["snippet"].startswith("@patterns [ council: ~r/council/i,")


def test_clean_file_passes(tmp_path):
    write_tree(tmp_path)
    result = run_module("elixir_lint", {"path": str(tmp_path / "lib/app/good.ex")})
    assert not result.get("failed"), result["msg"]
    assert result["findings"] == [] and result["files_scanned"] == 1


def test_missing_path_fails_clearly(tmp_path):
    result = run_module("elixir_lint", {"path": str(tmp_path / "nope")})
    assert result.get("failed") is True
    assert "does not exist" in result["msg"]
