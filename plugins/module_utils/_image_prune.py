# Copyright (c) sertantai.deploy contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Private to the collection: remove the old images of a service's repositories, keeping the newest.

Every deploy pulls new images, and the ones it replaced stay on the server, no longer tagged but still named by
their digest (``repo@sha256:...``). On a host that deploys daily they fill the disk that PostgreSQL shares. This
keeps, per repository, the newest ``keep`` images (by their creation time, then when they were last tagged here),
every image a container uses (running or stopped) and every image a wanted reference names; of the others it
removes this repository's references only (``docker rmi repo:tag repo@digest``, never ``-f``). Docker deletes an
image once its last reference is gone, so an image another repository also names stays, and Docker itself refuses
to remove an image a container uses.
"""

from __future__ import annotations

from ansible_collections.sertantai.deploy.plugins.module_utils._app import image_repository, short_id
from ansible_collections.sertantai.deploy.plugins.module_utils._disk import human_bytes
from ansible_collections.sertantai.deploy.plugins.module_utils._docker import DockerError, error_lines

# One round trip: the image of every container, then the images listed under each repository.
LIST_SCRIPT = r"""
docker=$1; shift
ids=$("$docker" ps -aq --no-trunc) || exit 1
echo "used"
# A container removed meanwhile uses nothing: what inspect still finds is enough.
[ -z "$ids" ] || "$docker" inspect --type container --format '{{.Image}}' $ids 2>/dev/null
for repository; do
  echo "repository $repository"
  "$docker" image ls --no-trunc --format '{{.ID}}' "$repository" || exit 1
done
"""


def familiar(repository):
    """A repository as Docker names it in RepoTags and RepoDigests (``docker.io/library/nginx`` -> ``nginx``)."""
    for prefix in ("docker.io/library/", "docker.io/", "index.docker.io/library/", "index.docker.io/"):
        if repository.startswith(prefix):
            return repository[len(prefix):]
    return repository


def parse_listing(text):
    """``(used, listed)`` from LIST_SCRIPT's output: the image ids containers use, and {repository: [image ids]}."""
    used, listed, current = set(), {}, None
    for line in (text or "").splitlines():
        line = line.strip()
        if line == "used":
            current = None
        elif line.startswith("repository "):
            current = listed.setdefault(line.split(" ", 1)[1], [])
        elif line.startswith("sha256:"):
            if current is None:
                used.add(line)
            elif line not in current:
                current.append(line)
    return used, listed


def all_references(doc):
    """Every tag and digest that names an image (its inspect document)."""
    return (doc.get("RepoTags") or []) + (doc.get("RepoDigests") or [])


def references(doc, repository):
    """The references of an image (its inspect document) in ``repository``: tags first, then digests."""
    name = familiar(repository)
    tags = [ref for ref in doc.get("RepoTags") or [] if image_repository(ref) == name and "@" not in ref]
    digests = [ref for ref in doc.get("RepoDigests") or [] if ref.split("@", 1)[0] == name]
    return tags + digests


def age(doc):
    """An image's sort key, newest last: when it was built, then when this host last tagged it (a pull tags it; a
    rebuild that only adds a label keeps its base's creation time; Docker's containerd store leaves it unset)."""
    return doc.get("Created") or "", (doc.get("Metadata") or {}).get("LastTagTime") or "", doc["Id"]


def plan(listed, docs, used, wanted, keep):
    """Per repository, which images stay and why, and which references go.

    ``listed``: {repository: [image ids]}; ``docs``: image id -> inspect document; ``used``: ids containers use;
    ``wanted``: ids that a wanted reference names; ``keep``: the newest images kept per repository.
    Returns ``[{repository, kept: [{id, created, why}], remove: [{id, created, size, references}]}]``.
    """
    result = []
    for repository, ids in listed.items():
        images = sorted((docs[image_id] for image_id in ids if image_id in docs), key=age, reverse=True)
        kept, remove = [], []
        for rank, doc in enumerate(images):
            why = ("in use" if doc["Id"] in used else "wanted" if doc["Id"] in wanted
                   else "among the newest %d" % keep if rank < keep else None)
            if why:
                kept.append(dict(id=doc["Id"], created=doc.get("Created"), why=why))
            else:
                remove.append(dict(id=doc["Id"], created=doc.get("Created"), size=doc.get("Size"),
                                   references=references(doc, repository)))
        result.append(dict(repository=repository, kept=kept, remove=[item for item in remove if item["references"]]))
    return result


def prune(cli, images, keep, check_mode=False):
    """Remove the old images of the repositories of ``images`` (references: their repositories are pruned, the
    images they name kept). Returns ``{changed, repositories, removed, freed}``; ``removed``: one entry per image
    whose references went, with ``deleted`` (the image is gone from the host) and ``error`` (Docker's refusal);
    ``freed``: the sizes of the deleted images, at most what the disk got back (layers other images share stay)."""
    if keep < 1:
        raise DockerError("keep must be 1 or more, not %d: the newest image of a repository always stays" % keep)
    repositories = list(dict.fromkeys(image_repository(ref) for ref in images if ref))
    _rc, out, _err = cli.script(LIST_SCRIPT, *repositories)
    used, listed = parse_listing(out)
    ids = list(dict.fromkeys(image_id for repository in repositories for image_id in listed.get(repository, [])))
    docs, _missing = cli.inspect(*(ids + list(images)), kind="image")
    wanted = set(docs[ref]["Id"] for ref in images if ref in docs)
    planned = plan(listed, dict((image_id, docs[image_id]) for image_id in ids if image_id in docs), used, wanted, keep)
    removed = [dict(item, repository=entry["repository"]) for entry in planned for item in entry["remove"]]
    errors, still = [], None
    if removed and not check_mode:
        refs = [ref for item in removed for ref in item["references"]]
        rc, _out, err = cli.run("rmi", *refs, check=False)
        # When Docker removed every reference, what is left of each image is known already; only a refusal needs
        # another look.
        if rc != 0:
            errors = error_lines(err)
            still = cli.inspect(*[item["id"] for item in removed], kind="image")[0]
    for item in removed:
        if still is None:
            # The image is deleted when nothing outside this repository names it.
            item["deleted"], item["error"] = len(all_references(docs.get(item["id"]) or {})) == len(item["references"]), None
        else:
            left = all_references(still.get(item["id"]) or {})
            item["deleted"] = item["id"] not in still
            item["error"] = reason(item, errors) if set(item["references"]) & set(left) else None
    freed = sum(item["size"] or 0 for item in removed if item["deleted"] and not item["error"])
    return dict(changed=any(not item["error"] for item in removed), removed=removed, freed=freed,
                repositories=[dict(repository=entry["repository"], kept=entry["kept"]) for entry in planned])


def reason(item, errors):
    """Docker's lines about one image (by a reference or its short id), or all of them."""
    about = [line for line in errors if short_id(item["id"]) in line or any(ref in line for ref in item["references"])]
    return "; ".join(about or errors) or "Docker did not say why"


def summary(result, keep, check_mode=False):
    """One sentence: what was (or would be) removed and freed, and what stays."""
    done = [item for item in result["removed"] if not item["error"]]
    kept = sum(len(entry["kept"]) for entry in result["repositories"])
    verb = "would remove" if check_mode else "removed"
    if not done:
        text = "nothing to remove: %d image%s kept (the newest %d of each repository and those in use)" % (
            kept, "" if kept == 1 else "s", keep)
    else:
        text = "%s %d old image%s (%s), %s; %d kept" % (
            verb, len(done), "" if len(done) == 1 else "s",
            ", ".join("%s %s" % (item["repository"].rsplit("/", 1)[-1], short_id(item["id"])) for item in done),
            "%s up to %s" % ("would free" if check_mode else "freed", human_bytes(result["freed"])), kept)
    failed = [item for item in result["removed"] if item["error"]]
    if failed:
        text += "; not removed: " + "; ".join("%s (%s)" % (short_id(item["id"]), item["error"]) for item in failed)
    return text
