"""Where things are: the database, the price files, llmcost.toml.

Precedence for every setting: command-line flag > LLMCOST_* environment variable >
llmcost.toml (or [tool.llmcost] in pyproject.toml) > default. No heavy imports here: this
module is on the `--help` path.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmcost.errors import ConfigError

DEFAULT_DB = Path(".llmcost") / "llmcost.duckdb"
PACKAGE_DIR = Path(__file__).resolve().parent


def _data_dir(name: str, repo_relative: str) -> Path:
    """A data folder shipped in the wheel (llmcost/data/NAME), or the repository's own in a checkout."""
    shipped = PACKAGE_DIR / "data" / name
    if shipped.is_dir():
        return shipped
    return PACKAGE_DIR.parents[1] / repo_relative


def bundled_pricing_dir() -> Path:
    return _data_dir("pricing", "pricing")


def templates_dir() -> Path:
    return _data_dir("templates", "reports/templates")


@dataclass
class Settings:
    db: Path = DEFAULT_DB
    pricing: list[Path] = field(default_factory=list)
    config_path: Path | None = None
    raw: dict[str, Any] = field(default_factory=dict)

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(
                f"{self.config_path}: [{name}] must be a table",
                hint="see the README's configuration section",
            )
        return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix the TOML syntax") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None


def load_config(config: Path | None) -> tuple[Path | None, dict[str, Any]]:
    """The explicit --config file, else ./llmcost.toml, else [tool.llmcost] in ./pyproject.toml."""
    if config is not None:
        if not config.is_file():
            raise ConfigError(f"config file not found: {config}", hint="check the --config path")
        return config, _read_toml(config)
    local = Path("llmcost.toml")
    if local.is_file():
        return local, _read_toml(local)
    pyproject = Path("pyproject.toml")
    if pyproject.is_file():
        tool = _read_toml(pyproject).get("tool", {}).get("llmcost")
        if isinstance(tool, dict):
            return pyproject, tool
    return None, {}


def resolve(
    db: Path | None = None, pricing: list[Path] | None = None, config: Path | None = None
) -> Settings:
    config_path, raw = load_config(config)
    base = config_path.parent if config_path else Path(".")
    if db is None:
        env_db = os.environ.get("LLMCOST_DB")
        if env_db:
            db = Path(env_db)
        elif "db" in raw:
            db = base / str(raw["db"])
        else:
            db = DEFAULT_DB
    if not pricing:
        env_pricing = os.environ.get("LLMCOST_PRICING")
        if env_pricing:
            pricing = [Path(p) for p in env_pricing.split(os.pathsep) if p]
        else:
            configured = raw.get("pricing", [])
            if isinstance(configured, str):
                configured = [configured]
            pricing = [base / str(p) for p in configured]
    return Settings(db=db, pricing=list(pricing), config_path=config_path, raw=raw)
