"""Where the data files Mend ships are: the playbook, the coach's rules, model files.

In a checkout they are the `data/` folder next to README.md, which an operations
lead edits. In an installed package (`pip install .`) the same files ship inside it
as `bot/data/` and are found with importlib.resources. `MEND_PLAYBOOK` still wins
for the playbook (see bot/runtime/config.py).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]


def in_checkout() -> bool:
    """Whether this Mend runs from a source checkout (not an installed package)."""
    return (CHECKOUT / "pyproject.toml").is_file() and (CHECKOUT / "data").is_dir()


def data_dir() -> Path:
    """The folder of the shipped data files."""
    if in_checkout():
        return CHECKOUT / "data"
    return Path(str(resources.files("bot") / "data"))


def data_file(name: str) -> Path:
    return data_dir() / name
