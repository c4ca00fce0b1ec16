# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: status_report
short_description: The status of one host from what playbooks/status.yml read, as table rows and problems
version_added: 0.1.0
author:
  - Sertantai deploy maintainers (@shotleybuilder)
description:
  - Judges what C(playbooks/status.yml) read on one host and returns the rows of its tables (strings, for a
    template that aligns them) and the problems that make the play fail.
  - "Problems: a component with no live container, or one that is not running or not healthy; Electric waiting
    for its replication lock, or its slot missing, inactive, lost or retaining too much WAL; a certificate missing,
    expired, expiring within O(settings.cert_min_days) days, or still self-signed where certbot should have issued
    it; where certificates are issued, no running schedule of C(certbot renew) (the timer not active, cron not
    running, or neither scheduled); PostgreSQL unreachable, a database missing, C(wal_level) not C(logical) with
    Electric in the fleet; the nginx container not running or not healthy; a filesystem under a named volume fuller
    than O(settings.disk_max_percent)."
options:
  _input:
    description: The services of the host, as the fleet role normalised them (C(sertantai_fleet)).
    type: list
    elements: dict
    required: true
  apps:
    description: "The M(sertantai.deploy.app_service_info) result per service name, or C({failed: true, msg})."
    type: dict
    required: true
  postgres:
    description:
      - The M(sertantai.deploy.pg_cluster_info) result. Registered with C(failed_when=false), a failed read keeps
        C(failed=false); a result without C(version), or with a C(msg), counts as PostgreSQL unreachable.
    type: dict
  electric:
    description:
      - The M(sertantai.deploy.electric_slots_info) result, or null when the host runs no Electric. A result without
        C(slots), or with a C(msg), counts as not read.
    type: dict
  docker_lines:
    description:
      - "Lines C(container /<name> <state> <health> <restarts>) and
        C(volume <name> <bytes> <filesystem> <size> <used> <available>) (bytes)."
    type: list
    elements: str
  cert_lines:
    description:
      - "Lines C(cert <domain> missing) or C(cert <domain> <self-signed|issued> <not after> <now> <issuer>) (epoch
        seconds, by the server's clock), and one line C(renewal timer <systemctl is-active of the timer, or missing>)
        or C(renewal cron <active|inactive|missing>) (cron runs or not; its file is missing)."
    type: list
    elements: str
  settings:
    description:
      - "C(cert_min_days) (14), C(disk_max_percent) (90), C(issue_certificates) (true: a self-signed certificate is a
        problem, and the renewal schedule is checked), C(nginx_container), C(pg_container), C(renew_name) (the name
        of the timer or cron file, C(sertantai_certbot_renew_name)), C(volumes) (the named volumes to list)."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Judge what was read
  ansible.builtin.set_fact:
    status: >-
      {{ sertantai_fleet | sertantai.deploy.status_report(apps=apps, postgres=pg, electric=electric,
           docker_lines=docker.stdout_lines, cert_lines=certs.stdout_lines,
           settings={'cert_min_days': 14, 'disk_max_percent': 90, 'volumes': ['shared_postgres_data']}) }}
"""

RETURN = r"""
_value:
  description:
    - "C(shared): rows C({shared, container, state, details}) of PostgreSQL, nginx and C(certbot renew) (where
      certificates are issued); C(components): rows
      C({service, component, container, tag, health, restarts, deploy}); C(services): rows
      C({service, electric, lag, certificate, database, urls}); C(volumes): rows C({volume, size, filesystem, used});
      C(problems): one line per unhealthy thing; C(notes): what is worth knowing but not unhealthy."
  type: dict
"""

from ansible_collections.sertantai.deploy.plugins.module_utils._status import build_report


def status_report(fleet, apps, postgres=None, electric=None, docker_lines=None, cert_lines=None, settings=None):
    return build_report(fleet, apps, postgres, electric, docker_lines, cert_lines, settings or {})


class FilterModule:
    def filters(self):
        return {"status_report": status_report}
