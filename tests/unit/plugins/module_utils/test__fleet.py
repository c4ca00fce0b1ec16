"""_fleet: validation messages name the service and the field; normalisation derives names."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _fleet

LEGAL = {
    "name": "legal",
    "domain": "legal.sertantai.com",
    "database": "sertantai_legal_prod",
    "extensions": ["uuid-ossp", "citext"],
    "backend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-backend", "tag": "latest", "port": 4000},
    "frontend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-frontend", "tag": "latest", "port": 3000},
    "electric": {"enabled": True, "stream_id": "legal"},
}
AUTH = {
    "name": "auth",
    "domain": "auth.sertantai.com",
    "database": "sertantai_auth_prod",
    "backend": {"image": "ghcr.io/shotleybuilder/sertantai-auth-backend", "port": 4001},
}


def fleet(*changes):
    """LEGAL and AUTH with changes applied: (index, dotted.field, value); value None deletes."""
    services = [copy.deepcopy(LEGAL), copy.deepcopy(AUTH)]
    for index, field, value in changes:
        target = services[index]
        *parents, leaf = field.split(".")
        for part in parents:
            target = target.setdefault(part, {})
        if value is None:
            target.pop(leaf, None)
        else:
            target[leaf] = value
    return services


def test_valid_fleet_has_no_errors():
    assert _fleet.validate_services(fleet()) == []


@pytest.mark.parametrize("changes, expected", [
    ([(1, "name", "legal")], "service 'legal' (entry #2) field 'name': 'legal' is already used by service 'legal' (entry #1)"),
    ([(1, "database", "sertantai-auth")], "service 'auth' field 'database': 'sertantai-auth' is not a valid PostgreSQL identifier"),
    ([(1, "database", "1st")], "service 'auth' field 'database': '1st' is not a valid PostgreSQL identifier"),
    ([(1, "database", "sertantai_legal_prod")], "service 'auth' field 'database': 'sertantai_legal_prod' is already used by service 'legal'"),
    ([(0, "extensions", "uuid-ossp, citext")], "service 'legal' field 'extensions': must be a list of extension names"),
    ([(0, "extensions", ["uuid ossp"])], "service 'legal' field 'extensions': 'uuid ossp' is not an extension name"),
    ([(0, "extensions", [{"name": "citext"}])], "service 'legal' field 'extensions': {'name': 'citext'} is not an extension name"),
    ([(1, "domain", "auth_sertantai.com")], "service 'auth' field 'domain': 'auth_sertantai.com' is not a valid hostname"),
    ([(1, "domain", "localhost")], "service 'auth' field 'domain': 'localhost' is not a valid hostname"),
    ([(1, "domain", None)], "service 'auth' field 'domain': required"),
    ([(1, "domain", "legal.sertantai.com")], "service 'auth' field 'domain': 'legal.sertantai.com' is already used by service 'legal'"),
    ([(1, "backend.port", 4000)], "service 'auth' field 'backend.port': 4000 is already used by service 'legal'"),
    ([(1, "backend.port", "4001")], "service 'auth' field 'backend.port': must be an integer between 1 and 65535"),
    ([(1, "backend.port", 70000)], "service 'auth' field 'backend.port': must be an integer between 1 and 65535"),
    ([(1, "backend.image", None)], "service 'auth' field 'backend.image': required"),
    ([(1, "backend", None)], "service 'auth' field 'backend': required"),
    ([(1, "backend.tag", "bad tag")], "service 'auth' field 'backend.tag': 'bad tag' is not a valid image tag"),
    ([(1, "databse", "x")], "service 'auth' field 'databse': unknown field"),
    ([(1, "backend.prot", 1)], "service 'auth' field 'backend.prot': unknown field"),
    ([(1, "name", "Auth")], "service 'Auth' field 'name': 'Auth' must be lower-case letters"),
    ([(0, "electric.stream_id", "Legal-1")], "service 'legal' field 'electric.stream_id': 'Legal-1' is not a valid replication slot suffix"),
    ([(1, "electric", {"enabled": True, "stream_id": "legal"})],
     "service 'auth' field 'electric.stream_id': 'legal' is already used by service 'legal'"),
    ([(0, "electric.stream_id", None), (1, "electric", {"enabled": True})],
     "service 'legal' field 'electric.stream_id': required when several Electric instances share one PostgreSQL cluster"),
    ([(0, "electric.enabled", "yes")], "service 'legal' field 'electric.enabled': must be true or false"),
])
def test_invalid_fleet_names_service_and_field(changes, expected):
    errors = _fleet.validate_services(fleet(*changes))
    assert any(expected in e for e in errors), errors


def test_not_a_list():
    assert _fleet.validate_services({"name": "legal"}) == ["sertantai_services: must be a list of services, got dict"]


def test_service_without_name_is_numbered():
    errors = _fleet.validate_services([{"domain": "a.example.com"}])
    assert errors[0].startswith("service #1 field 'name'")


def test_single_electric_may_omit_stream_id():
    services = fleet((0, "electric.stream_id", None))
    assert _fleet.validate_services(services) == []
    legal = _fleet.build_fleet(services)[0]
    assert legal["electric"]["slot"] == "electric_slot_default"


def test_normalize_fills_defaults_and_derives_names():
    legal, auth = _fleet.build_fleet(fleet())
    assert legal["containers"] == {"backend": "sertantai-legal", "frontend": "sertantai-legal-frontend",
                                   "electric": "sertantai-legal-electric"}
    assert legal["electric"]["slot"] == "electric_slot_legal"
    assert legal["electric"]["publication"] == "electric_publication_legal"
    assert auth["backend"]["tag"] == "latest"
    assert auth["backend"]["healthcheck"] == "/health"
    assert auth["extensions"] == []
    assert auth["frontend"] is None
    assert auth["electric"]["enabled"] is False
    assert auth["containers"] == {"backend": "sertantai-auth"}


def test_normalize_does_not_mutate_input():
    services = fleet()
    before = copy.deepcopy(services)
    _fleet.build_fleet(services)
    assert services == before


def test_host_services_selects_and_rejects_unknown():
    assert [s["name"] for s in _fleet.build_fleet(fleet(), ["auth"])] == ["auth"]
    with pytest.raises(_fleet.FleetError) as err:
        _fleet.build_fleet(fleet(), ["enforcement"])
    assert "'enforcement' is not a service in sertantai_services (known: legal, auth)" in err.value.errors[0]


@pytest.mark.parametrize("name, ok", [
    ("legal.sertantai.com", True),
    ("a-b.example.org", True),
    ("-bad.example.org", False),
    ("bad-.example.org", False),
    ("UPPER.example.org", False),
    ("nodot", False),
    ("1.2.3.4", False),
    ("a" * 64 + ".com", False),
])
def test_is_hostname(name, ok):
    assert _fleet.is_hostname(name) is ok


def test_tags_replace_the_tag_of_the_named_components_for_one_run():
    services = fleet()
    built = _fleet.build_fleet(services, tags={"legal": {"backend": "061c576", "frontend": "5f1252d"}})
    legal, auth = built
    assert legal["backend"]["ref"] == "ghcr.io/shotleybuilder/sertantai-legal-backend:061c576"
    assert legal["frontend"]["ref"] == "ghcr.io/shotleybuilder/sertantai-legal-frontend:5f1252d"
    assert legal["electric"]["ref"].endswith(":latest"), "a component not named keeps the fleet's tag"
    assert auth["backend"]["ref"] == "ghcr.io/shotleybuilder/sertantai-auth-backend:latest", "so does another service"
    assert services == fleet(), "the description itself is not changed"
    # A component the service does not have is left to the deploy's own check (it names what the service has).
    assert _fleet.build_fleet(services, tags={"auth": {"frontend": "v2"}})[1]["frontend"] is None


@pytest.mark.parametrize("tag", ["v1 --rm", "-v1", "", 7])
def test_a_tag_to_deploy_that_is_not_one_is_refused_naming_service_and_component(tag):
    with pytest.raises(_fleet.FleetError) as err:
        _fleet.build_fleet(fleet(), tags={"legal": {"backend": tag}})
    assert err.value.errors == ["the tag to deploy for legal's backend, '%s', is not a valid image tag (letters, digits, "
                                "'_', '.' and '-', at most 128, not starting with '.' or '-')" % tag]
