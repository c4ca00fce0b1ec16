"""app_service and the engine's API version, on this machine's own Docker Engine.

The test servers run Docker 26 (API 1.45), where the containers get the healthcheck's start_interval
(molecule app_service checks it). An engine before Docker 25 (API 1.44) has no start_interval (its API drops
the field without a word): app_service_info says which engine it is, and the role's container task then leaves
start_interval out. Both are run here for real, whatever this machine's engine is.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from ansible_collections.sertantai.deploy.plugins.module_utils._docker import parse_api_version
from tests.support.ansible import BIN, REPO, ansible_env, run_module
from tests.support.docker import PREFIX, docker, inspect, remove_containers

pytestmark = pytest.mark.docker

NAME = PREFIX + "engine-frontend-blue"
NETWORK = PREFIX + "engine"
FRONTEND = "sertantai-test/frontend:latest"
HEALTHCHECK = {"test": ["CMD", "wget", "--no-verbose", "--tries=1", "--spider", "http://localhost:3000/"],
               "interval": "5s", "timeout": "3s", "retries": 3, "start_period": "60s", "start_interval": "1s"}


@pytest.fixture
def network(docker_engine):
    if docker("image", "inspect", FRONTEND, check=False).returncode != 0:
        pytest.fail("test image %s is missing: run scripts/build-images frontend" % FRONTEND)
    remove_containers(NAME)
    docker("network", "rm", NETWORK, check=False)
    docker("network", "create", NETWORK)
    yield NETWORK
    remove_containers(NAME)
    docker("network", "rm", NETWORK, check=False)


def test_app_service_info_reads_the_engine(tmp_path, docker_engine):
    result = run_module("app_service_info", {"service": "enginetest", "routes_file": str(tmp_path / "routes.conf"),
                                             "components": {"frontend": {"image": FRONTEND}}})
    assert not result.get("failed"), result.get("msg")
    api = parse_api_version(docker("version", "--format", "{{.Server.APIVersion}}").stdout)
    assert result["engine"] == {"api_version": "%d.%d" % api, "healthcheck_start_interval": api >= (1, 44)}


def test_app_service_info_says_whether_the_shared_containers_run(tmp_path, network):
    # NAME stands in for the nginx container: the module reads its state in the same docker inspect call.
    def nginx(name):
        result = run_module("app_service_info", {"service": "enginetest", "routes_file": str(tmp_path / "routes.conf"),
                                                 "components": {}, "shared_containers": {"nginx": name}})
        assert not result.get("failed"), result.get("msg")
        return result["shared"]["nginx"]

    assert nginx(NAME) == {"name": NAME, "state": "absent", "running": False}
    docker("create", "--name", NAME, "--network", network, FRONTEND)
    assert nginx(NAME) == {"name": NAME, "state": "created", "running": False}
    docker("start", NAME)
    assert nginx(NAME) == {"name": NAME, "state": "running", "running": True}
    docker("stop", "--time", "1", NAME)
    assert nginx(NAME) == {"name": NAME, "state": "exited", "running": False}


def test_app_service_info_says_whether_the_site_exists_and_reads_the_routes(tmp_path, docker_engine):
    def read():
        result = run_module("app_service_info", {"service": "enginetest", "routes_file": str(tmp_path / "routes.conf"),
                                                 "site_file": str(tmp_path / "site.conf"), "components": {}})
        assert not result.get("failed"), result.get("msg")
        return result["site"]["exists"], result["routes"]

    assert read() == (False, {})
    (tmp_path / "routes.conf").write_text("set $sertantai_backend_color green;\n")
    assert read() == (False, {"backend": "green"})
    (tmp_path / "site.conf").write_text("server {}\n")
    assert read() == (True, {"backend": "green"})
    (tmp_path / "routes.conf").unlink()
    assert read() == (True, {})


def test_an_engine_without_start_interval_gets_the_rest_of_the_healthcheck(tmp_path, network):
    # The role's own container task, as a deploy includes it, told the engine has no start_interval. Task vars:
    # they take precedence over the role's own vars (vars/main.yml), play vars do not.
    task_vars = {
        "app_service_name": "enginetest", "sertantai_network": network,
        "__app_service_create": [{"component": "frontend", "color": "blue", "new": NAME}],
        "__app_service_state": {"engine": {"api_version": "1.41", "healthcheck_start_interval": False}},
        "__app_service_containers": {"frontend": {
            "image": FRONTEND, "env": {"PORT": "3000"}, "healthcheck": HEALTHCHECK, "volumes": [],
            "restart_policy": "no", "stop_timeout": 5, "memory": None, "cpus": None, "spec": "enginetest",
            "settings": "enginetest-settings"}},
    }
    task = {"name": "Start the container as app_service does", "vars": task_vars,
            "ansible.builtin.include_role": {"name": "sertantai.deploy.app_service", "tasks_from": "container.yml"}}
    play = [{"hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [task]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    proc = subprocess.run([str(BIN / "ansible-playbook"), "-i", "localhost,", str(playbook)], capture_output=True, text=True,
                          env=ansible_env(ANSIBLE_STDOUT_CALLBACK="default"), cwd=str(REPO), timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    health = inspect(NAME)["Config"]["Healthcheck"]
    assert health["Test"] == HEALTHCHECK["test"]
    assert (health["Interval"], health["Timeout"], health["Retries"], health["StartPeriod"]) == (5 * 10**9, 3 * 10**9, 3, 60 * 10**9)
    assert not health.get("StartInterval"), json.dumps(health)
