"""The README is for users: short, its settings table the schema's, every command in it one the CLI takes."""
import re

from conftest import ROOT
from harstream.adapters.config import markdown_table
from harstream.cli import build_parser

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_is_short_and_speaks_to_users():
    assert len(README.splitlines()) <= 300
    for lab_note in ("previous session", "this machine", "the seed", "seed's"):
        assert lab_note not in README, lab_note


def test_the_settings_table_is_the_schemas():
    table = README.split("<!-- settings table")[1].split("-->", 1)[1].split("<!-- end of settings table -->")[0]
    assert table.strip() == markdown_table().strip(), "run python -m harstream.adapters.config and paste its table"


def subcommands():
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sub.choices


def test_every_harstream_command_in_the_readme_exists_with_its_flags():
    choices = subcommands()
    found = 0
    for line in README.splitlines():
        for match in re.finditer(r"(?:^|\s|`)harstream ([a-z-]+)((?: [^#`\n]*)?)", line):
            command, rest = match.group(1), match.group(2)
            if command not in choices:
                continue  # prose: "harstream is not on the package index"
            found += 1
            options = {s for a in choices[command]._actions for s in a.option_strings}
            for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", rest):
                assert flag in options, f"README: `harstream {command} ... {flag}`: {command} has no {flag}"
    assert found >= 15
    mentioned = set(re.findall(r"harstream ([a-z-]+)", README))
    assert {"demo", "serve", "watch", "record", "predict", "replay", "models", "evaluate"} <= mentioned
