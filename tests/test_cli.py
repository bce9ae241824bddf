"""The `newsbot` command line, run as a real process on a real SQLite file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SEED_HEADLINES = {
    "Iran’s president visits Iraq on first foreign trip",
    "Iraq begins closing Al-Hol camp, 19,000 citizens return home",
}
RESULT_KEYS = {"article_id", "headline", "excerpt", "published", "url", "score"}


def newsbot(
    db: Path, *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", "--db", str(db), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=environ,
        timeout=120,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "news.db"


def ask_json(db: Path, question: str, *extra: str) -> dict[str, Any]:
    run = newsbot(db, "ask", question, "--json", *extra)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 1
    answer: dict[str, Any] = json.loads(lines[0])
    return answer


def test_ask_on_an_empty_store_ingests_the_seeds_and_answers(db: Path) -> None:
    answer = ask_json(db, "How many US troops are in Iraq?")
    assert answer["question"] == "How many US troops are in Iraq?"
    assert answer["found"] is True
    best = answer["results"][0]
    assert set(best) == RESULT_KEYS
    assert best["headline"] == "Iran’s president visits Iraq on first foreign trip"
    assert "2,500" in best["excerpt"]
    assert best["published"].startswith("2024-09-11")
    assert 0 < best["score"] <= 1
    assert len(best["excerpt"]) <= 520


def test_off_topic_question_is_not_found(db: Path) -> None:
    answer = ask_json(db, "What is a good recipe for chocolate cake?")
    assert answer["found"] is False


def test_top_limits_results(db: Path) -> None:
    answer = ask_json(db, "Iraq", "--top", "1")
    assert len(answer["results"]) <= 1


def test_as_of_before_every_article_finds_nothing(db: Path) -> None:
    answer = ask_json(db, "How many US troops are in Iraq?", "--as-of", "2001-01-01")
    assert answer["found"] is False
    assert answer["results"] == []


def test_batch_mode_reads_plain_and_json_lines(db: Path) -> None:
    stdin = "\n".join(
        [
            "How many Iraqis returned from Al-Hol?",
            "",
            json.dumps({"question": "Who did Pezeshkian meet?", "as_of": "2024-09-12"}),
            json.dumps({"question": "recipe for chocolate cake"}),
        ]
    )
    run = newsbot(db, "ask", "--json", stdin=stdin)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert [a["found"] for a in answers] == [True, True, False]
    assert "19,000" in answers[0]["results"][0]["excerpt"]
    assert answers[1]["results"][0]["headline"].startswith("Iran’s president")


def test_text_output_names_the_headline(db: Path) -> None:
    run = newsbot(db, "ask", "What did Iran and Iraq sign?")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "Iran’s president visits Iraq on first foreign trip"
    assert "memoranda" in run.stdout


def test_bad_arguments_give_one_line_and_no_traceback(db: Path) -> None:
    run = newsbot(db, "ask", "anything", "--as-of", "yesterday")
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "YYYY-MM-DD" in run.stderr

    run = newsbot(db, "ask", "--json", stdin='{"as_of": "2024-01-01"}\n')
    assert run.returncode == 2
    assert "line 1" in run.stderr
    assert "Traceback" not in run.stderr


def test_headlines_newest_first(db: Path) -> None:
    run = newsbot(db, "headlines", "--limit", "5")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert len(lines) == 2
    assert {line.split("  ", 1)[1] for line in lines} == SEED_HEADLINES
    # The Al-Hol article carries a relative date ("8 sec ago"), so it is the newer one.
    assert "Al-Hol" in lines[0]


def test_ingest_counts_and_reingest_is_idempotent(db: Path, tmp_path: Path) -> None:
    first = newsbot(db, "ingest", str(ROOT / "seeds"))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "added 2, updated 0, unchanged 0, failed 0"
    again = newsbot(db, "ingest", str(ROOT / "seeds"))
    assert again.stdout.strip() == "added 0, updated 0, unchanged 2, failed 0"


def test_ingest_reports_bad_files_by_name_and_line_and_loads_the_rest(
    db: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    good = {"id": "g1", "headline": "Good one", "body": "A body.", "published": "2024-01-02"}
    (folder / "a.jsonl").write_text(
        json.dumps(good) + "\n{not json\n" + json.dumps({**good, "id": "g2"}) + "\n"
    )
    (folder / "b.jsonl").write_bytes(b"\xff\xfe\x00bad bytes")
    run = newsbot(db, "ingest", str(folder))
    assert run.returncode == 1
    assert "added 2," in run.stdout and "failed 2" in run.stdout
    assert f"{folder / 'a.jsonl'}:2:" in run.stderr
    assert str(folder / "b.jsonl") in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_path_is_reported_and_the_others_load(db: Path, tmp_path: Path) -> None:
    run = newsbot(db, "ingest", str(tmp_path / "nope.txt"), str(ROOT / "seeds"))
    assert run.returncode == 1
    assert "nope.txt" in run.stderr
    assert run.stdout.startswith("added 2,")


def test_check_reports_the_store(db: Path) -> None:
    run = newsbot(db, "check")
    assert run.returncode == 0
    assert run.stdout.startswith("ok: 0 articles")


def test_settings_from_env_and_config_file(tmp_path: Path) -> None:
    config = tmp_path / "newsbot.toml"
    config.write_text(f'db = "{tmp_path / "from-config.db"}"\ntop = 1\n')
    run = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "Iraq", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")},
            "NEWSBOT_CONFIG": str(config),
        },
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "from-config.db").exists()
    assert len(json.loads(run.stdout)["results"]) == 1


@pytest.mark.parametrize(
    ("config", "env", "message"),
    [
        ('timezone = "Mars/Olympus"\n', {}, "invalid setting timezone"),
        ("top = [\n", {}, "cannot read the settings"),
        ("", {"NEWSBOT_TOP": "many"}, "invalid setting top"),
    ],
)
def test_bad_settings_are_one_line_errors(
    tmp_path: Path, config: str, env: dict[str, str], message: str
) -> None:
    path = tmp_path / "newsbot.toml"
    path.write_text(config)
    run = newsbot(tmp_path / "news.db", "ask", "Iraq", env={"NEWSBOT_CONFIG": str(path), **env})
    assert run.returncode == 1
    assert message in run.stderr
    assert "Traceback" not in run.stderr


def test_hostile_questions_get_safe_answers(db: Path) -> None:
    hostile = [
        "<script>alert(1)</script> <b>Iraq</b> troops",
        "Iraq " * 1000,  # 5,000 characters
        "🔥🔥🔥 🇮🇶 troops?",
        "كم عدد القوات الأمريكية في العراق؟",
        "\x00\x07Iraq\x1b[31m troops\u202e",
    ]
    stdin = "\n".join(json.dumps({"question": q}) for q in hostile)
    run = newsbot(db, "ask", "--json", stdin=stdin)
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert [a["question"] for a in answers] == hostile
    for answer in answers:
        assert isinstance(answer["found"], bool)
        for result in answer["results"]:
            assert len(result["excerpt"]) <= 520


def test_a_postgresql_store_without_postgresql_support_installed_is_one_line() -> None:
    # As after `pip install .` without the postgres extra: psycopg cannot be imported.
    code = (
        "import sys; sys.modules['psycopg'] = None; from bot.cli import main; "
        "sys.exit(main(['--db', 'postgresql://u:s3cret@127.0.0.1:1/db', 'check']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "pip install 'newsbot[postgres]'" in done.stderr
    assert "s3cret" not in done.stderr + done.stdout
