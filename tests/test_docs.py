"""The README is a user's five minutes; reference lives in docs/ (issue 19 item 7)."""

from __future__ import annotations

import re
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
README = (CHECKOUT / "README.md").read_text(encoding="utf-8")
LINK = re.compile(r"\]\(((?:docs|bench|packaging)/[^)#]+)(?:#[^)]*)?\)")


def test_the_readme_is_at_most_400_lines() -> None:
    assert len(README.splitlines()) <= 400


def test_the_readme_shows_the_two_quick_start_commands() -> None:
    assert "make demo" in README
    assert "make test" in README  # .ci/run runs the README's test command


def test_every_file_the_readme_links_exists() -> None:
    links = LINK.findall(README)
    assert links, "the README links no reference page"
    missing = [link for link in links if not (CHECKOUT / link).exists()]
    assert missing == []


def test_the_install_lines_work_on_a_new_account() -> None:
    assert "mkdir -p ~/.local/bin" in README  # a new account has none
    assert re.search(r"install -m 0755 dist/docker-credential-convox-\S+\.pyz", README)
    assert "apt-get install pipx" in README  # not on stock Debian 12


def test_the_deb_dependencies_named_in_the_readme_include_jeepney() -> None:
    control = (CHECKOUT / "packaging" / "debian" / "control").read_text()
    assert "python3-jeepney" in control
    assert "python3-jeepney" in README


def test_the_man_page_synopsis_names_every_command() -> None:
    man = (CHECKOUT / "packaging" / "man" / "docker-credential-convox.1").read_text()
    synopsis = man.split(".SH SYNOPSIS", 1)[1].split(".SH ", 1)[0]
    for command in ("registries", "add", "remove", "list", "import", "doctor", "kubelet"):
        assert command in synopsis, command
