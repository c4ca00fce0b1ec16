"""The one ELECTRIC_REPLICATION_STREAM_ID rule (``_electric.is_stream_id``), at its boundaries, through both
of its users: fleet validation (``_fleet``) and the Electric modules' input check (``_electric``)."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils import _electric, _fleet

SERVICE = {
    "name": "legal",
    "domain": "legal.sertantai.com",
    "database": "sertantai_legal_prod",
    "backend": {"image": "ghcr.io/shotleybuilder/sertantai-legal-backend", "port": 4000},
    "electric": {"enabled": True, "stream_id": "legal"},
}

CASES = [
    # Lengths around the limit (42 = 63 - len("electric_publication_")) and the two limits the
    # rule had before it lived in one place (40 in the fleet, 49 in the Electric modules).
    ("a" * 1, True),
    ("a" * 40, True),
    ("a" * 41, True),
    ("a" * 42, True),
    ("a" * 43, False),
    ("a" * 49, False),
    ("a" * 50, False),
    # Character classes: lower-case letters, digits and '_' only.
    ("legal", True),
    ("legal_2", True),
    ("2legal", True),
    ("_", True),
    ("0123456789", True),
    ("Legal", False),
    ("LEGAL", False),
    ("legal-prod", False),
    ("legal.prod", False),
    ("legal prod", False),
    ("légal", False),
    ("legal$", False),
    ("legal'; DROP TABLE x; --", False),
    ("", False),
]


@pytest.mark.parametrize("stream_id, valid", CASES)
def test_rule(stream_id, valid):
    assert _electric.is_stream_id(stream_id) is valid


@pytest.mark.parametrize("stream_id, valid", CASES)
def test_fleet_validation_applies_the_rule(stream_id, valid):
    service = copy.deepcopy(SERVICE)
    service["electric"]["stream_id"] = stream_id
    errors = _fleet.validate_services([service])
    if valid:
        assert errors == []
    else:
        assert len(errors) == 1
        assert errors[0].startswith("service 'legal' field 'electric.stream_id': %r is not a valid replication slot suffix" % stream_id)
        assert "1 to 42 characters" in errors[0]


@pytest.mark.parametrize("stream_id, valid", [case for case in CASES if case[0]])
def test_electric_modules_apply_the_rule(stream_id, valid):
    # An empty stream id means Electric's default there, so it is not part of this table.
    errors = _electric.validate_instances([dict(name="legal-electric", stream_id=stream_id, database="db")])
    if valid:
        assert errors == []
    else:
        assert len(errors) == 1 and "stream_id '%s' is not a valid slot-name suffix" % stream_id in errors[0]
        assert "1 to 42 characters" in errors[0]
