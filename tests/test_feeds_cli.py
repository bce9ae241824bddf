"""`newsbot feeds add/remove/import/export` as a real process, feeds served on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from pytest_httpserver import HTTPServer

from tests.test_cli import newsbot
from tests.test_feed_sources import OPML, serve


def test_add_list_remove_from_the_command_line(httpserver: HTTPServer, tmp_path: Path) -> None:
    base = serve(httpserver)
    db = tmp_path / "news.db"
    config = tmp_path / "newsbot.toml"
    config.write_text(f'[[feeds]]\nurl = "{base}/atom.xml"\nname = "Mountain"\n')

    run = newsbot(db, "feeds", "add", f"{base}/harbour.xml", "--refresh-minutes", "5")
    assert run.returncode == 0, run.stderr
    assert run.stdout == (
        f"added Harbour Gazette ({base}/harbour.xml): 3 items; "
        "newest: Council approves new ferry timetable\n"
    )
    asked = newsbot(db, "ask", "ferry timetable")
    assert asked.stdout.startswith("Council approves new ferry timetable")

    again = newsbot(db, "feeds", "add", f"{base}/harbour.xml")
    assert again.returncode == 1 and again.stdout == ""
    assert again.stderr == f"newsbot: already present: {base}/harbour.xml (added before)\n"
    page = newsbot(db, "feeds", "add", f"{base}/plain")
    assert page.returncode == 1
    assert page.stderr == f"newsbot: {base}/plain: a web page with no RSS or Atom feed link\n"
    dup = newsbot(db, "--config", str(config), "feeds", "add", f"{base}/")
    assert dup.returncode == 1 and "(in the config file)" in dup.stderr

    listed = newsbot(db, "--config", str(config), "feeds")
    assert listed.returncode == 0, listed.stderr
    assert f"{base}/atom.xml (config file)\n  url: {base}/atom.xml\n  not fetched yet" in (
        listed.stdout
    )
    assert "Harbour Gazette (added 20" in listed.stdout and "items 3, added 3" in listed.stdout

    config_remove = newsbot(db, "--config", str(config), "feeds", "remove", "Mountain")
    assert config_remove.returncode == 1 and "remove its [[feeds]] entry" in config_remove.stderr
    removed = newsbot(db, "feeds", "remove", f"{base}/harbour.xml")
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == (
        f"removed Harbour Gazette ({base}/harbour.xml); "
        "kept its 3 articles (--purge deletes them)\n"
    )
    assert newsbot(db, "ask", "ferry timetable").stdout.startswith("Council approves")
    assert "no feeds" in newsbot(db, "feeds").stdout


def test_import_export_and_purge(httpserver: HTTPServer, tmp_path: Path) -> None:
    base = serve(httpserver)
    db = tmp_path / "news.db"
    opml = tmp_path / "reader.opml"
    opml.write_text((OPML / "feedly_export.opml").read_text().replace("{base}", base))

    run = newsbot(db, "feeds", "import", str(opml))
    assert run.returncode == 1  # two outlines failed
    lines = run.stdout.splitlines()
    assert lines[0] == "outline 1: added: Harbour Gazette: 3 items"
    assert lines[1] == f"outline 2: failed: {base}/gone.xml: HTTP 404 NOT FOUND"
    assert lines[2] == "outline 3: failed: an outline without xmlUrl"
    assert lines[3] == "outline 4: added: Mountain Post: 2 items"
    assert lines[4] == f"outline 5: already present: {base}/harbour.xml (added before)"
    assert lines[5] == "added 2, already present 1, failed 2"

    exported = newsbot(db, "feeds", "export")
    assert exported.returncode == 0
    assert exported.stdout.count("<outline ") == 2
    assert f'xmlUrl="{base}/harbour.xml"' in exported.stdout

    # a feed added without a name is exported under its own title, not its URL
    assert newsbot(db, "feeds", "remove", "Harbour Gazette").returncode == 0
    assert newsbot(db, "feeds", "add", f"{base}/harbour.xml").returncode == 0
    exported = newsbot(db, "feeds", "export").stdout
    assert f'text="Harbour Gazette" title="Harbour Gazette" xmlUrl="{base}/harbour.xml"' in (
        exported
    )

    purged = newsbot(db, "feeds", "remove", "Mountain Post", "--purge")
    assert purged.returncode == 0, purged.stderr
    assert purged.stdout == f"removed Mountain Post ({base}/atom.xml) and 2 of its articles\n"

    bad = newsbot(db, "feeds", "import", str(OPML / "malformed.opml"))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith("newsbot: ") and "malformed XML" in bad.stderr
    assert bad.stderr.count("\n") == 1
    missing = newsbot(db, "feeds", "import", str(tmp_path / "nope.opml"))
    assert missing.returncode == 1 and "cannot read" in missing.stderr
