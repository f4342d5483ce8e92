"""The buildroot's repositories as Copr's frontend writes them into a build's config
(``BuildConfigLogic.generate_build_config``): the project's own first, then the project's
and the chroot's additional ones, with ids, priorities and variables as upstream has them."""

from __future__ import annotations

from coprd.core.project_chroots import expand_config

RESULTS = "https://coprd.example/results"


def repos(*urls: str, priority: int | None = None, chroot: str = "fedora-41-x86_64") -> list:
    settings = {"repos": list(urls), "repo_priority": priority}
    return expand_config(
        "alice", "demo", chroot, settings, enable_net=False, results_url=RESULTS
    ).repos


def test_the_projects_own_repository_comes_first_with_the_projects_priority() -> None:
    (own,) = repos(priority=5)
    assert (own.id, own.baseurl, own.priority) == (
        "copr_base",
        f"{RESULTS}/alice/demo/fedora-41-x86_64/",
        5,
    )


def test_a_priority_in_the_url_is_the_repositorys_and_leaves_the_url() -> None:
    _own, extra = repos("https://repo.example/el/$distname/?priority=3&arch=x")
    assert extra.baseurl == "https://repo.example/el/fedora/?arch=x"
    assert extra.priority == 3
    # The id is made from the URL as given, as upstream's generate_repo_name does.
    assert extra.id == "https_repo_example_el_distname_priority_3_arch_x"
    assert extra.name == f"Additional repo {extra.id}"


def test_copr_urls_name_another_projects_repository_of_the_same_chroot() -> None:
    _own, other = repos("copr://bob/tools", chroot="epel-9-x86_64")
    assert other.baseurl == f"{RESULTS}/bob/tools/epel-9-x86_64/"
    assert other.id == "copr_bob_tools"
    assert other.priority is None


def test_a_priority_dnf_would_not_take_is_ignored() -> None:
    _own, extra = repos("https://repo.example/r/$chroot/?priority=0")
    assert extra.baseurl == "https://repo.example/r/fedora-41-x86_64/"
    assert extra.priority is None
