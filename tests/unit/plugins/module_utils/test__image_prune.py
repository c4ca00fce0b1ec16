"""_image_prune: which images of a repository stay (the newest, those in use, those wanted) and which references go
(only the repository's own). The Docker calls themselves run against a real engine in
tests/integration/modules/test_image_prune.py."""

from __future__ import annotations

import pytest

from ansible_collections.sertantai.deploy.plugins.module_utils._image_prune import familiar, parse_listing, plan, references, summary

REPO = "ghcr.io/o/legal-backend"


def image(n, created, tags=(), digests=None, size=100):
    """An image inspect document: id sha256:<n repeated>, created on day ``created`` of November."""
    image_id = "sha256:" + str(n) * 64
    return {"Id": image_id, "Created": "2026-11-%02dT10:00:00.000000000Z" % created, "Size": size,
            "RepoTags": list(tags), "RepoDigests": list(digests if digests is not None else ["%s@sha256:%s" % (REPO, "d%d" % n)])}


def docs_of(*images):
    return dict((doc["Id"], doc) for doc in images)


def test_parse_listing_splits_the_images_in_use_from_those_of_each_repository():
    text = "used\nsha256:aa\nsha256:bb\nrepository r1\nsha256:aa\nsha256:cc\nsha256:cc\nrepository r2\n"
    used, listed = parse_listing(text)
    assert used == {"sha256:aa", "sha256:bb"}
    assert listed == {"r1": ["sha256:aa", "sha256:cc"], "r2": []}


@pytest.mark.parametrize("given, name", [
    ("docker.io/library/nginx", "nginx"),
    ("docker.io/electricsql/electric", "electricsql/electric"),
    ("electricsql/electric", "electricsql/electric"),
    ("localhost:5000/legal-backend", "localhost:5000/legal-backend"),
])
def test_familiar_names_a_repository_as_repo_tags_do(given, name):
    assert familiar(given) == name


def test_references_are_the_repositorys_own_tags_then_digests():
    doc = {"RepoTags": [REPO + ":latest", "ghcr.io/o/auth-backend:latest", REPO + ":abc1234"],
           "RepoDigests": ["ghcr.io/o/auth-backend@sha256:1", REPO + "@sha256:2"]}
    assert references(doc, REPO) == [REPO + ":latest", REPO + ":abc1234", REPO + "@sha256:2"]
    # A repository whose name another one starts with is not the same repository.
    assert references({"RepoTags": [REPO + "-old:v1"], "RepoDigests": []}, REPO) == []


def test_plan_keeps_the_newest_and_those_in_use_or_wanted_and_removes_the_rest():
    one, two, three, four, five = (image(1, 1), image(2, 2), image(3, 3), image(4, 4, tags=[REPO + ":latest"]), image(5, 5))
    docs = docs_of(one, two, three, four, five)
    # five is the newest; four is what the fleet's tag names (wanted), one is used by a stopped container.
    result = plan({REPO: list(docs)}, docs, used={one["Id"]}, wanted={four["Id"]}, keep=2)
    assert len(result) == 1
    kept = dict((item["id"], item["why"]) for item in result[0]["kept"])
    assert kept == {five["Id"]: "among the newest 2", four["Id"]: "wanted", one["Id"]: "in use"}
    assert [item["id"] for item in result[0]["remove"]] == [three["Id"], two["Id"]]
    assert result[0]["remove"][0]["references"] == [REPO + "@sha256:d3"]


def test_plan_counts_each_repository_on_its_own():
    other = "ghcr.io/o/legal-frontend"
    a, b = image(1, 1), image(2, 2)
    c = image(3, 1, digests=[other + "@sha256:c"])
    d = image(4, 2, digests=[other + "@sha256:d"])
    docs = docs_of(a, b, c, d)
    result = plan({REPO: [a["Id"], b["Id"]], other: [c["Id"], d["Id"]]}, docs, used=set(), wanted=set(), keep=1)
    assert [(entry["repository"], [item["id"] for item in entry["remove"]]) for entry in result] == [
        (REPO, [a["Id"]]), (other, [c["Id"]])]


def test_plan_leaves_an_image_with_no_reference_in_the_repository_alone():
    # Listed under the repository (Docker matched it) but named only elsewhere: nothing of ours to remove.
    stray = image(1, 1, digests=["ghcr.io/o/auth-backend@sha256:x"])
    newest = image(2, 2)
    docs = docs_of(stray, newest)
    result = plan({REPO: list(docs)}, docs, used=set(), wanted=set(), keep=1)
    assert result[0]["remove"] == []


def test_summary_says_what_went_and_what_it_freed_at_most():
    removed = [dict(repository=REPO, id="sha256:" + "1" * 64, deleted=True, error=None, size=3 * 1024 * 1024),
               dict(repository=REPO, id="sha256:" + "2" * 64, deleted=False, error="conflict: a container uses it", size=5)]
    result = dict(removed=removed, freed=3 * 1024 * 1024, repositories=[dict(repository=REPO, kept=[{}, {}, {}])])
    assert summary(result, 3) == ("removed 1 old image (legal-backend 111111111111), freed up to 3.0 MB; 3 kept; "
                                  "not removed: 222222222222 (conflict: a container uses it)")
    assert summary(result, 3, check_mode=True).startswith("would remove 1 old image (legal-backend 111111111111), would free up to")
    nothing = dict(removed=[], freed=0, repositories=[dict(repository=REPO, kept=[{}])])
    assert summary(nothing, 3) == "nothing to remove: 1 image kept (the newest 3 of each repository and those in use)"


def test_plan_orders_images_built_at_the_same_time_by_when_this_host_last_tagged_them():
    # A rebuild that only adds a label keeps its base's creation time; the pull that brought it tagged it later.
    base, relabelled = image(1, 1), image(2, 1)
    base["Metadata"] = {"LastTagTime": "2026-11-02T10:00:00Z"}
    relabelled["Metadata"] = {"LastTagTime": "2026-11-03T10:00:00Z"}
    docs = docs_of(base, relabelled)
    result = plan({REPO: list(docs)}, docs, used=set(), wanted=set(), keep=1)
    assert ([item["id"] for item in result[0]["kept"]], [item["id"] for item in result[0]["remove"]]) == (
        [relabelled["Id"]], [base["Id"]])
