"""_secrets: generated once, kept 0600, replaced only by a given value."""

from __future__ import annotations

import os
import stat

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _secrets
from tests.support.docker import subprocess_run_command

WANTED = [dict(name="secret_key_base", bytes=64), dict(name="electric_secret", bytes=32)]


def ensure(*args, **kwargs):
    """_secrets.ensure with its commands run here, as AnsibleModule.run_command runs them on the host."""
    return _secrets.ensure(subprocess_run_command, *args, **kwargs)


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generated_once_then_read_back(tmp_path):
    directory = str(tmp_path / "legal")
    first = ensure(directory, WANTED)
    assert first["created"] == ["secret_key_base", "electric_secret"] and first["replaced"] == []
    assert len(first["values"]["secret_key_base"]) == 88 and len(first["values"]["electric_secret"]) == 44
    assert mode(directory) == 0o700 and mode(first["files"]["secret_key_base"]) == 0o600
    # As generated, without a newline or anything else.
    assert open(first["files"]["electric_secret"], encoding="utf-8").read() == first["values"]["electric_secret"]
    again = ensure(directory, WANTED)
    assert again["created"] == [] and again["values"] == first["values"]


def test_a_given_value_replaces_and_then_stays(tmp_path):
    directory = str(tmp_path / "legal")
    ensure(directory, WANTED)
    given = [dict(WANTED[0], value="from-vault"), WANTED[1]]
    result = ensure(directory, given)
    assert result["replaced"] == ["secret_key_base"] and result["values"]["secret_key_base"] == "from-vault"
    assert ensure(directory, given)["replaced"] == []
    assert open(os.path.join(directory, "secret_key_base"), encoding="utf-8").read() == "from-vault"


def test_check_mode_writes_nothing(tmp_path):
    directory = str(tmp_path / "legal")
    result = ensure(directory, WANTED, check_mode=True)
    assert result["created"] == ["secret_key_base", "electric_secret"] and not os.path.exists(directory)


def test_read_files_and_a_clear_error_when_missing(tmp_path):
    password = tmp_path / "postgres_superuser_password"
    password.write_text("pw\n")
    result = ensure(str(tmp_path / "legal"), WANTED, read_files=dict(database_password=str(password)))
    assert result["values"]["database_password"] == "pw"
    with pytest.raises(_secrets.SecretsError) as err:
        ensure(str(tmp_path / "legal"), WANTED, read_files=dict(database_password=str(tmp_path / "nope")))
    assert "database_password" in str(err.value) and "apply the role that writes it first" in str(err.value)


def test_a_loose_mode_is_tightened(tmp_path):
    directory = str(tmp_path / "legal")
    files = ensure(directory, WANTED)["files"]
    os.chmod(files["electric_secret"], 0o644)
    ensure(directory, WANTED)
    assert mode(files["electric_secret"]) == 0o600


@pytest.mark.parametrize("name", ["Secret", "a-b", "", "../x"])
def test_bad_names_are_refused(tmp_path, name):
    with pytest.raises(_secrets.SecretsError):
        ensure(str(tmp_path), [dict(name=name, bytes=8)])


def test_a_directory_where_a_file_should_be_is_named(tmp_path):
    # Docker makes one when a container mounts a file that is missing.
    (tmp_path / "postgres_superuser_password").mkdir()
    with pytest.raises(_secrets.SecretsError) as err:
        ensure(str(tmp_path / "legal"), WANTED, read_files=dict(database_password=str(tmp_path / "postgres_superuser_password")))
    assert "postgres_superuser_password: not a regular file" in str(err.value)


def test_values_travel_on_stdin_and_in_output_only(tmp_path):
    """No command line holds a value: what a process list or a -vvv log of the commands would show."""
    seen = []

    def run_command(args, data=None, binary_data=False):
        seen.append(args)
        return subprocess_run_command(args, data=data, binary_data=binary_data)

    directory = str(tmp_path / "legal")
    given = [dict(WANTED[0], value="from-vault-value"), WANTED[1]]
    result = _secrets.ensure(run_command, directory, given)
    assert len(seen) == 3  # one read, two writes
    for value in result["values"].values():
        assert all(value not in " ".join(args) for args in seen)
