"""_docker: one ``docker inspect`` call for any number of names, against the CLI's recorded answers."""

from __future__ import annotations

import json

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerCli, DockerError, die_events, parse_api_version


def cli_answering(rc, docs, stderr, calls=None):
    """A run_command that answers like the Docker CLI: a JSON list on stdout, errors on stderr."""
    def run_command(argv, data=None, binary_data=False):
        if calls is not None:
            calls.append(argv)
        return rc, json.dumps(docs) + "\n", stderr
    return run_command


WEB = {"Id": "aaaa1111", "Name": "/web"}
DB = {"Id": "bbbb2222", "Name": "/db"}
IMAGE = {"Id": "sha256:cccc", "RepoTags": ["example/app:latest"]}


@pytest.mark.parametrize("names, rc, docs, stderr, found, missing", [
    (["web", "db"], 0, [WEB, DB], "", {"web": WEB, "db": DB}, []),
    # asked by id prefix and by name: Docker answers in the order asked
    (["bbbb", "web"], 0, [DB, WEB], "", {"bbbb": DB, "web": WEB}, []),
    (["web", "gone", "db"], 1, [WEB, DB], "Error response from daemon: No such container: gone\n",
     {"web": WEB, "db": DB}, ["gone"]),
    (["gone"], 1, [], "Error: No such object: gone\n", {}, ["gone"]),
    # an image asked without a tag: the daemon names it twice, the second time with the tag
    (["example/app", "example/none"], 1, [IMAGE],
     "Error response from daemon: no such image: example/none: No such image: example/none:latest\n",
     {"example/app": IMAGE}, ["example/none"]),
    (["example/none:2"], 1, [], "Error response from daemon: no such image: example/none:2: No such image: example/none:2\n",
     {}, ["example/none:2"]),
])
def test_inspect_keys_documents_by_the_names_asked(names, rc, docs, stderr, found, missing):
    calls = []
    kind = "image" if names[0].startswith("example/") else "container"
    result = DockerCli(cli_answering(rc, docs, stderr, calls)).inspect(*names, kind=kind)
    assert result == (found, missing)
    assert calls == [["docker", "inspect", "--type", kind] + names]


def test_inspect_of_nothing_runs_nothing():
    calls = []
    assert DockerCli(cli_answering(0, [], "", calls)).inspect() == ({}, [])
    assert calls == []


@pytest.mark.parametrize("rc, docs, stderr, message", [
    (1, [], "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?\n",
     "Cannot connect to the Docker daemon"),
    (1, [], "", "docker inspect web db failed with rc=1"),
    # a document that cannot be matched to a name is an error, not a guess
    (0, [WEB], "", "docker inspect web db failed with rc=0"),
])
def test_inspect_failures_are_errors(rc, docs, stderr, message):
    with pytest.raises(DockerError) as err:
        DockerCli(cli_answering(rc, docs, stderr)).inspect("web", "db")
    assert message in err.value.message


DIE = ('{"status":"die","id":"5e40","Type":"container","Action":"die","Actor":{"ID":"5e40","Attributes":'
       '{"exitCode":"%s","name":"web"}},"scope":"local","time":%d,"timeNano":%d000000000}')


@pytest.mark.parametrize("text, exits", [
    ("", []),
    ("\n".join([DIE % ("3", 1795773315, 1795773315), DIE % ("0", 1795773318, 1795773318)]),
     [dict(exit_code=3, time=1795773315), dict(exit_code=0, time=1795773318)]),
    ('not json\n{"status":"start","Actor":{"Attributes":{}}}\n' + DIE % ("137", 5, 5), [dict(exit_code=137, time=5)]),
])
def test_die_events(text, exits):
    assert die_events(text) == exits


def test_exits_asks_docker_events_for_the_dies_in_the_window():
    calls = []

    def run_command(argv, data=None, binary_data=False):
        calls.append(argv)
        return 0, DIE % ("3", 1795773315, 1795773315) + "\n", ""
    cli = DockerCli(run_command)
    assert cli.exits("5e40", "2026-11-27T09:55:00Z", until="1795773316") == [dict(exit_code=3, time=1795773315)]
    assert cli.exits("5e40", "2026-11-27T09:55:00Z")
    assert [argv[argv.index("--until") + 1] for argv in calls] == ["1795773316", "0s"]
    assert calls[0][:4] == ["docker", "events", "--since", "2026-11-27T09:55:00Z"]
    assert "container=5e40" in calls[0] and "event=die" in calls[0]


def test_exits_asks_the_daemon_for_die_events_since_the_container_was_created():
    calls = []

    def run_command(argv, data=None, binary_data=False):
        calls.append(argv)
        return 0, DIE % ("2", 7, 7) + "\n", ""

    assert DockerCli(run_command).exits("5e40", "2026-11-27T09:55:11.8Z") == [dict(exit_code=2, time=7)]
    assert calls == [["docker", "events", "--since", "2026-11-27T09:55:11.8Z", "--until", "0s", "--filter", "container=5e40",
                      "--filter", "event=die", "--format", "{{json .}}"]]


@pytest.mark.parametrize("text, expected", [("1.45\n", (1, 45)), ("1.41", (1, 41)), ("2.0", (2, 0))])
def test_parse_api_version(text, expected):
    assert parse_api_version(text) == expected


@pytest.mark.parametrize("text", ["", "1", "1.x", "Cannot connect to the Docker daemon"])
def test_parse_api_version_names_what_the_engine_gave(text):
    with pytest.raises(DockerError, match="no API version"):
        parse_api_version(text)
