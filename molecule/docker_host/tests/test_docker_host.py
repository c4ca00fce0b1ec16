"""docker_host: engine, compose v2, infra_network and the deploy root on the server."""

import json


def test_docker_engine_answers(host):
    out = host.run("docker info --format '{{.ServerVersion}}'")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip()


def test_compose_v2_plugin_works(host):
    out = host.run("docker compose version --short")
    assert out.rc == 0, out.stderr
    assert out.stdout.strip().split(".")[0] == "2"


def test_infra_network_is_a_bridge(host):
    out = host.run("docker network inspect infra_network")
    assert out.rc == 0, out.stderr
    assert json.loads(out.stdout)[0]["Driver"] == "bridge"


def test_deploy_root_and_private_secrets(host):
    root = host.file("/opt/sertantai")
    assert root.is_directory
    assert root.mode == 0o750
    secrets = host.file("/opt/sertantai/secrets")
    assert secrets.is_directory
    assert secrets.mode == 0o700
    assert secrets.user == "root"
