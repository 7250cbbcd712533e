"""The example file in README.md's "Configuration as code" section is a valid file."""

from __future__ import annotations

import re
from pathlib import Path

from statpulse.config_as_code.document import parse

README = Path(__file__).parents[2] / "README.md"


def readme_example() -> str:
    section = README.read_text().split("## Configuration as code", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert len(blocks) == 1, "the section holds one YAML example"
    return str(blocks[0])


def test_the_readme_example_parses_with_its_variable_set() -> None:
    desired = parse(readme_example(), {"BILLING_TOKEN": "t0"})
    assert [m.name for m in desired.monitors] == ["Billing API", "Search API"]
    billing, search = desired.monitors
    assert billing.config.http is not None
    assert billing.config.http.headers == {"Authorization": "Bearer t0"}
    assert search.depends_on == "Billing API"
    [page] = desired.pages
    assert [(c.name, c.monitor) for c in page.components] == [
        ("Billing", "Billing API"),
        ("Search", "Search API"),
    ]
