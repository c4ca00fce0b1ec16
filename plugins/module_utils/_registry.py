# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: registry credentials from the local docker config, and a login check.

Reads ``config.json`` the way the Docker CLI does (``credHelpers`` for the registry, else
``credsStore``, else ``auths``), runs ``docker-credential-<helper> get`` for helpers, and can log in
against the registry's ``/v2/`` endpoint (Basic auth, or the Bearer token flow GHCR uses).
Secrets stay inside this module: nothing returned or raised here contains one.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode

from ansible.module_utils.urls import open_url

DOCKER_HUB = "https://index.docker.io/v1/"
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))')


class RegistryError(Exception):
    def __init__(self, message, reason="error"):
        super().__init__(message)
        self.message = message
        self.reason = reason


class Credentials:
    """Where the credentials came from and the username; the secret is never part of repr or a result."""

    def __init__(self, source, username=None, secret=None, helper=None, identity_token=False):
        self.source = source
        self.username = username
        self._secret = secret
        self.helper = helper
        self.identity_token = identity_token

    @property
    def usable(self):
        return bool(self._secret)

    def secret(self):
        return self._secret

    def __repr__(self):
        return "Credentials(source=%r, username=%r, helper=%r)" % (self.source, self.username, self.helper)


def default_config_path(environ=None):
    environ = os.environ if environ is None else environ
    if environ.get("DOCKER_CONFIG"):
        return os.path.join(environ["DOCKER_CONFIG"], "config.json")
    return os.path.join(os.path.expanduser("~"), ".docker", "config.json")


def split_registry(registry):
    """(scheme or None, host[:port]) of 'ghcr.io', 'https://ghcr.io/v2/', 'http://127.0.0.1:5000'."""
    registry = (registry or "").strip()
    m = re.match(r"^(https?)://", registry)
    scheme = m.group(1) if m else None
    host = registry[m.end():] if m else registry
    host = host.split("/", 1)[0].lower()
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        host = "index.docker.io"
    return scheme, host


def load_config(path):
    """The parsed config.json, or {} when the file does not exist."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as handle:
            data = json.load(handle)
    except ValueError as exc:
        raise RegistryError("%s is not valid JSON (%s): fix or remove it, then docker login again" % (path, exc))
    except (IOError, OSError) as exc:
        raise RegistryError("cannot read %s: %s" % (path, exc))
    if not isinstance(data, dict):
        raise RegistryError("%s is not a JSON object: fix or remove it, then docker login again" % path)
    return data


def _matching_key(mapping, host):
    for key in mapping or {}:
        if split_registry(key)[1] == host:
            return key
    return None


def _decode_auth(entry):
    """(username, secret, identity_token?) from an auths entry."""
    if entry.get("identitytoken"):
        return entry.get("username") or "<token>", entry["identitytoken"], True
    if entry.get("auth"):
        try:
            decoded = base64.b64decode(entry["auth"]).decode("utf-8")
        except (ValueError, TypeError, UnicodeDecodeError):
            raise RegistryError("the auths entry is not valid base64 of user:password: run docker login again")
        user, sep, secret = decoded.partition(":")
        if not sep:
            raise RegistryError("the auths entry does not decode to user:password: run docker login again")
        return user, secret, False
    return entry.get("username"), entry.get("password"), False


def helper_get(run_command, helper, host):
    """Ask ``docker-credential-<helper> get``; returns (username, secret) or None when it has none."""
    program = "docker-credential-" + helper
    if not shutil.which(program):
        raise RegistryError("the docker config names the credential helper %s, but %s is not installed or not on PATH: install it, "
                            "or remove it from the docker config and log in again" % (helper, program), reason="helper")
    last_error = None
    for server in (host, "https://" + host) if host != "index.docker.io" else (DOCKER_HUB, host):
        try:
            rc, out, err = run_command([program, "get"], data=server, binary_data=False)
        except (OSError, IOError):
            rc, out, err = 127, "", "not found"
        if rc == 0:
            try:
                data = json.loads(out)
            except ValueError:
                raise RegistryError("%s get did not answer JSON: is it a docker credential helper?" % program)
            return data.get("Username"), data.get("Secret")
        text = ((err or "") + (out or "")).strip()
        if rc == 127 or "No such file" in text or ("not found" in text and "credentials" not in text):
            raise RegistryError("the docker config names the credential helper %s, but %s is not installed or not on PATH: install it, "
                                "or remove it from the docker config and log in again" % (helper, program), reason="helper")
        last_error = text.splitlines()[-1] if text else "rc=%d" % rc
    if last_error and "credentials not found" not in last_error.lower():
        raise RegistryError("%s get failed for %s: %s" % (program, host, last_error), reason="helper")
    return None


def find_credentials(config, registry, run_command):
    """Credentials for registry from a parsed docker config, in the Docker CLI's order."""
    _scheme, host = split_registry(registry)
    helpers = config.get("credHelpers") or {}
    key = _matching_key(helpers, host)
    if key is not None:
        source, helper = "credHelpers", helpers[key]
    elif config.get("credsStore"):
        source, helper = "credsStore", config["credsStore"]
    else:
        source, helper = "auths", None
    if helper:
        found = helper_get(run_command, helper, host)
        if not found or not found[1]:
            return Credentials("none", helper=helper)
        return Credentials(source, found[0], found[1], helper=helper)
    auths = config.get("auths") or {}
    key = _matching_key(auths, host)
    if key is None:
        return Credentials("none")
    user, secret, identity = _decode_auth(auths[key] or {})
    if not secret:
        return Credentials("none")
    return Credentials("auths", user, secret, identity_token=identity)


def parse_challenge(header):
    """('bearer'|'basic'|..., {realm, service, scope}) from a WWW-Authenticate header."""
    header = (header or "").strip()
    scheme, _sep, rest = header.partition(" ")
    params = {}
    for m in _CHALLENGE_PARAM.finditer(rest):
        params[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3)
    return scheme.lower(), params


def _request(url, validate_certs, ca_path, timeout, headers=None, username=None, password=None):
    """(status, headers, body) for a GET; HTTP errors are answers, not exceptions."""
    kwargs = dict(method="GET", headers=headers or {}, validate_certs=validate_certs, timeout=timeout,
                  http_agent="sertantai.deploy.registry_auth", follow_redirects="safe")
    if ca_path:
        kwargs["ca_path"] = ca_path
    if username is not None:
        kwargs.update(url_username=username, url_password=password, force_basic_auth=True)
    try:
        response = open_url(url, **kwargs)
        return response.getcode(), response.headers, response.read()
    except HTTPError as exc:
        try:
            body = exc.read()
        except Exception:
            body = b""
        return exc.code, exc.headers, body
    except URLError as exc:
        reason = str(getattr(exc, "reason", exc))
        if "CERTIFICATE" in reason.upper() or "SSL" in reason.upper():
            raise RegistryError("TLS to %s failed (%s): give the registry's CA with ca_path, or validate_certs: false for a "
                                "test registry" % (url, reason), reason="tls")
        raise RegistryError("cannot reach %s: %s" % (url, reason), reason="unreachable")
    except Exception as exc:  # ssl/socket errors that open_url does not wrap
        text = str(exc)
        if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
            raise RegistryError("TLS to %s failed (%s): give the registry's CA with ca_path, or validate_certs: false for a "
                                "test registry" % (url, text), reason="tls")
        raise RegistryError("cannot reach %s: %s" % (url, text), reason="unreachable")


def verify_login(registry, credentials, validate_certs=True, ca_path=None, timeout=15):
    """Log in against <registry>/v2/ like docker login does; returns the auth scheme used.

    Raises RegistryError(reason='denied') when the registry refuses the credentials.
    """
    scheme, host = split_registry(registry)
    base = "%s://%s" % (scheme or "https", "registry-1.docker.io" if host == "index.docker.io" else host)
    status, headers, _body = _request(base + "/v2/", validate_certs, ca_path, timeout)
    if status == 200:
        return "none"
    if status != 401:
        raise RegistryError("%s/v2/ answered HTTP %d, not 401 or 200: is %s a registry?" % (base, status, host), reason="unexpected")
    challenge, params = parse_challenge(headers.get("WWW-Authenticate"))
    user, secret = credentials.username, credentials.secret()
    if challenge == "basic":
        status, _headers, _body = _request(base + "/v2/", validate_certs, ca_path, timeout, username=user, password=secret)
        if status == 200:
            return "basic"
        if status in (401, 403):
            raise RegistryError("%s refused the credentials of %s (HTTP %d)" % (host, user, status), reason="denied")
        raise RegistryError("%s/v2/ answered HTTP %d with credentials" % (base, status), reason="unexpected")
    if challenge == "bearer":
        realm = params.get("realm")
        if not realm:
            raise RegistryError("%s asks for a Bearer token but names no realm" % host, reason="unexpected")
        query = dict(service=params.get("service", host), client_id="sertantai.deploy")
        if params.get("scope"):
            query["scope"] = params["scope"]
        if not credentials.identity_token:
            query["account"] = user
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        status, _headers, body = _request(url, validate_certs, ca_path, timeout, username=user, password=secret)
        if status in (401, 403):
            raise RegistryError("the token service of %s refused the credentials of %s (HTTP %d)" % (host, user, status), reason="denied")
        if status != 200:
            raise RegistryError("the token service of %s answered HTTP %d" % (host, status), reason="unexpected")
        try:
            data = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
            token = data.get("token") or data.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not token:
            raise RegistryError("the token service of %s answered without a token" % host, reason="unexpected")
        status, _headers, _body = _request(base + "/v2/", validate_certs, ca_path, timeout, headers={"Authorization": "Bearer " + token})
        if status == 200:
            return "bearer"
        if status in (401, 403):
            raise RegistryError("%s refused the token issued for %s (HTTP %d)" % (host, user, status), reason="denied")
        raise RegistryError("%s/v2/ answered HTTP %d with a token" % (base, status), reason="unexpected")
    raise RegistryError("%s asks for an unsupported auth scheme %r" % (host, challenge or "?"), reason="unexpected")


def login_command(registry, username=None):
    _scheme, host = split_registry(registry)
    return 'echo "$PAT" | docker login %s -u %s --password-stdin' % (host, username or "<user>")


def denied_hint(host):
    if host == "ghcr.io":
        return ("the PAT may have expired or lack the read:packages (pull) / write:packages (push) scope: create a new one "
                "at https://github.com/settings/tokens and log in again")
    return "the password or token may have expired or been revoked, or lack pull/push rights: log in again with a current one"
