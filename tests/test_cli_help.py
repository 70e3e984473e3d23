"""Every command's help has examples, and every example runs as written
(docs/model.md section 9): taken from the help text itself, run in order from a copy
of the repository's example files."""
import argparse
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from simengine import cli

ROOT = Path(__file__).resolve().parents[1]


def _subparsers():
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return parser, sub.choices


def help_examples(text):
    """The command lines under `examples` in a help text."""
    lines = text.splitlines()
    start = [i for i, x in enumerate(lines) if x.startswith("examples")]
    if not start:
        return []
    out = []
    for line in lines[start[0] + 1:]:
        if not line.strip():
            break
        if line.strip().startswith("simengine "):
            out.append(line.strip())
    return out


def test_every_option_has_help():
    parser, commands = _subparsers()
    for name, sub in commands.items():
        assert sub.description, name
        for action in sub._actions:
            if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
                continue
            assert action.help, (name, action.dest)


def test_every_command_has_examples():
    _, commands = _subparsers()
    for name, sub in commands.items():
        examples = help_examples(sub.format_help())
        assert examples, name
        assert all(shlex.split(e)[1] in commands for e in examples), examples


@pytest.fixture()
def repo_copy(tmp_path, monkeypatch):
    for sub in ("scenarios", "docs/examples"):
        shutil.copytree(ROOT / sub, tmp_path / sub)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SIMENGINE_DEBUG", raising=False)
    return tmp_path


def test_help_examples_run_as_written(repo_copy, capsys):
    _, commands = _subparsers()
    ran = []
    for name, sub in commands.items():
        for example in help_examples(sub.format_help()):
            argv = shlex.split(example)[1:]
            rc = cli.main(argv)
            out, err = capsys.readouterr()
            assert rc == 0, (example, out, err)
            assert "Traceback" not in err, example
            ran.append(argv)
    assert {a[0] for a in ran} == set(commands)
    # what the examples say they write is there
    assert (repo_copy / "runs/seed7/cost_distribution.png").is_file()
    assert (repo_copy / "runs/parquet/paths.parquet").is_file()
    assert (repo_copy / "runs/truth/events.arrow").is_file()
    # and git ignores all of it in a checkout (run from its root, they write there)
    if shutil.which("git") and (ROOT / ".git").exists():
        written = [p.name + ("/" if p.is_dir() else "") for p in repo_copy.iterdir()
                   if p.name not in ("scenarios", "docs")]
        assert written, "the examples wrote nothing?"
        check = subprocess.run(["git", "check-ignore", "--no-index", "--verbose",
                                "--non-matching", *written], cwd=ROOT, capture_output=True,
                               text=True)
        unignored = [line.split("\t")[1] for line in check.stdout.splitlines()
                     if line.startswith("::")]
        assert not unignored, f"not in .gitignore: {unignored}"
