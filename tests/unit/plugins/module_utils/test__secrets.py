"""_secrets: generated once, kept 0600, replaced only by a given value."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _secrets

WANTED = [dict(name="secret_key_base", bytes=64), dict(name="electric_secret", bytes=32)]


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generated_once_then_read_back(tmp_path):
    directory = str(tmp_path / "legal")
    first = _secrets.ensure(directory, WANTED)
    assert first["created"] == ["secret_key_base", "electric_secret"] and first["replaced"] == []
    assert len(first["values"]["secret_key_base"]) == 88 and len(first["values"]["electric_secret"]) == 44
    assert mode(directory) == 0o700 and mode(first["files"]["secret_key_base"]) == 0o600
    again = _secrets.ensure(directory, WANTED)
    assert again["created"] == [] and again["values"] == first["values"]


def test_a_given_value_replaces_and_then_stays(tmp_path):
    directory = str(tmp_path / "legal")
    _secrets.ensure(directory, WANTED)
    given = [dict(WANTED[0], value="from-vault"), WANTED[1]]
    result = _secrets.ensure(directory, given)
    assert result["replaced"] == ["secret_key_base"] and result["values"]["secret_key_base"] == "from-vault"
    assert _secrets.ensure(directory, given)["replaced"] == []
    assert open(os.path.join(directory, "secret_key_base"), encoding="utf-8").read() == "from-vault"


def test_check_mode_writes_nothing(tmp_path):
    directory = str(tmp_path / "legal")
    result = _secrets.ensure(directory, WANTED, check_mode=True)
    assert result["created"] == ["secret_key_base", "electric_secret"] and not os.path.exists(directory)


def test_read_files_and_a_clear_error_when_missing(tmp_path):
    password = tmp_path / "postgres_superuser_password"
    password.write_text("pw\n")
    result = _secrets.ensure(str(tmp_path / "legal"), WANTED, read_files=dict(database_password=str(password)))
    assert result["values"]["database_password"] == "pw"
    with pytest.raises(_secrets.SecretsError) as err:
        _secrets.ensure(str(tmp_path / "legal"), WANTED, read_files=dict(database_password=str(tmp_path / "nope")))
    assert "database_password" in str(err.value) and "apply the role that writes it first" in str(err.value)


def test_a_loose_mode_is_tightened(tmp_path):
    directory = str(tmp_path / "legal")
    files = _secrets.ensure(directory, WANTED)["files"]
    os.chmod(files["electric_secret"], 0o644)
    _secrets.ensure(directory, WANTED)
    assert mode(files["electric_secret"]) == 0o600


@pytest.mark.parametrize("name", ["Secret", "a-b", "", "../x"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(_secrets.SecretsError):
        _secrets.ensure(str(tmp_path), [dict(name=name, bytes=8)])
