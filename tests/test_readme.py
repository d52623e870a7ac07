"""The README's two set-up commands stay true: CI runs exactly the test command."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _commands():
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"```bash\n(.+?)\n```", readme)


def test_readme_has_exactly_two_setup_commands():
    commands = _commands()
    assert len(commands) == 2
    assert "python -m wengert demo" in commands[0] and "[demo]" in commands[0]
    assert "pytest" in commands[1] and "[test]" in commands[1]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _commands()[1] in ci


def test_readme_coverage_table_is_current():
    from wengert.tools.coverage import coverage_markdown
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- coverage:start -->\n")[1].split("\n<!-- coverage:end -->")[0]
    assert block == coverage_markdown(), "run `python -m wengert coverage` and paste it into the README"
