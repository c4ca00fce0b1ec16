# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    # How a module reaches PostgreSQL; the argument spec is pg_argument_spec() in module_utils/_pg.py.
    DOCUMENTATION = r"""
options:
  pg_container:
    description:
      - Name of the PostgreSQL container to run SQL in, through C(docker exec <container> psql) as
        O(pg_user) over the container's local socket. Use this on a server where PostgreSQL publishes
        no host port.
      - Mutually exclusive with O(pg_dsn) and O(pg_host); one of the three is required.
    type: str
  pg_docker_cli:
    description:
      - The Docker CLI used for O(pg_container).
    type: str
    default: docker
  pg_dsn:
    description:
      - A libpq connection string or URI for a direct connection through psycopg, for example a
        developer's database. It may hold a password, so it is never logged.
    type: str
  pg_host:
    description:
      - Host of a direct connection through psycopg.
    type: str
  pg_port:
    description:
      - Port of a direct connection.
    type: int
    default: 5432
  pg_user:
    description:
      - Role to connect as.
    type: str
    default: postgres
  pg_password:
    description:
      - Password of a direct connection. Never logged.
    type: str
  pg_connect_timeout:
    description:
      - Seconds to wait for a direct connection.
    type: int
    default: 10
requirements:
  - psycopg 3 on the host that runs the module, for a direct connection (O(pg_dsn) or O(pg_host)).
  - The Docker CLI on the host that runs the module, for O(pg_container).
notes:
  - Both transports return the same rows; PostgreSQL builds them as JSON on either path.
"""
