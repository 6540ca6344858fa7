"""The dbt profile target the loader reads: the same profiles.yml, target and variables as dbt.

dbt picks a target from ``--target`` or the profile's ``target:`` line (``DBT_TARGET`` in this
project) and renders the output with ``env_var()``. :func:`read_target` does the same with dbt's
own renderer, so the loader opens exactly the warehouse ``dbt build`` wrote.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from loader.errors import ConfigError

SUPPORTED_TYPES = ("duckdb", "postgres", "spark")
DEFAULT_PROFILE = "klaviyo_audiences"
# Keys of a profile output that hold secrets: never shown by Target.describe() or repr().
SECRET_KEYS = frozenset({"password", "token", "pass", "private_key", "client_secret"})


@dataclass(frozen=True)
class Target:
    """One rendered output of a dbt profile (secrets included, never printed)."""

    profile: str
    name: str
    type: str
    settings: Mapping[str, Any] = field(repr=False)

    @property
    def schema(self) -> str:
        return str(self.settings.get("schema") or "")

    @property
    def database(self) -> str | None:
        value = self.settings.get("database") or self.settings.get("dbname")
        return str(value) if value else None

    def secrets(self) -> list[str]:
        """The secret values of this output, so output can be scrubbed of them."""
        return [str(v) for k, v in self.settings.items() if k in SECRET_KEYS and v]

    def describe(self) -> str:
        """A one-line description without secrets, for messages."""
        s = self.settings
        if self.type == "duckdb":
            where = str(s.get("path"))
        elif self.type == "postgres":
            where = f"{s.get('user')}@{s.get('host')}:{s.get('port')}/{s.get('dbname')}"
        elif self.type == "spark":
            where = f"{s.get('method')} {s.get('host')}"
        else:
            where = ""
        return f"{self.profile}.{self.name} ({self.type} {where}, schema {self.schema})".strip()


def profiles_dir(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """profiles.yml's folder, in dbt's order: explicit, DBT_PROFILES_DIR, working dir, ~/.dbt."""
    env = os.environ if env is None else env
    if explicit:
        return Path(explicit)
    if env.get("DBT_PROFILES_DIR"):
        return Path(env["DBT_PROFILES_DIR"])
    if Path("profiles.yml").is_file():
        return Path.cwd()
    return Path.home() / ".dbt"


def _profile_name(raw: Mapping[str, Any], explicit: str | None, env: Mapping[str, str]) -> str:
    if explicit:
        return explicit
    if env.get("DBT_PROFILE"):
        return env["DBT_PROFILE"]
    project = Path(env.get("DBT_PROJECT_DIR") or ".") / "dbt_project.yml"
    if project.is_file():
        name = (yaml.safe_load(project.read_text()) or {}).get("profile")
        if name:
            return str(name)
    names = [k for k in raw if k != "config"]
    if DEFAULT_PROFILE in names or len(names) != 1:
        return DEFAULT_PROFILE
    return names[0]


def read_target(
    target: str | None = None,
    *,
    profiles_dir_path: str | Path | None = None,
    profile: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Target:
    """Render the profile output dbt would use (``target`` overrides like dbt's ``--target``)."""
    env = dict(os.environ if env is None else env)
    folder = profiles_dir(profiles_dir_path, env)
    path = folder / "profiles.yml"
    if not path.is_file():
        raise ConfigError(
            f"No profiles.yml in {folder}.",
            hint="Run from the dbt project folder, or set DBT_PROFILES_DIR to the folder of "
            "profiles.yml.",
        )
    raw = yaml.safe_load(path.read_text()) or {}
    name = _profile_name(raw, profile, env)
    if name not in raw:
        raise ConfigError(
            f"profiles.yml ({path}) has no profile {name!r} "
            f"(it has: {', '.join(k for k in raw if k != 'config') or 'none'}).",
            hint="Set DBT_PROFILE, or name the project's profile in profiles.yml.",
        )
    target_name, rendered = contextvars.copy_context().run(
        _render, raw[name], name, target, env
    )
    kind = str(rendered.get("type") or "")
    if kind not in SUPPORTED_TYPES:
        raise ConfigError(
            f"Target {name}.{target_name} is of type {kind!r}; the loader reads "
            f"{', '.join(SUPPORTED_TYPES)}.",
            hint="Pick another target with DBT_TARGET / --target (docs/scale.md).",
        )
    if kind == "spark" and rendered.get("method") != "session":
        raise ConfigError(
            f"Target {name}.{target_name}: the loader reads Spark through a local session "
            f"(method: session); this target's method is {rendered.get('method')!r}.",
            hint="See docs/scale.md, 'Spark and Databricks'.",
        )
    return Target(profile=name, name=target_name, type=kind, settings=rendered)


def _render(raw_profile: dict[str, Any], name: str, target: str | None,
            env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    # dbt's renderer (env_var(), as_number, ...): the same values as `dbt build`. Run inside a
    # copied context: dbt keeps the environment it renders with in a context variable.
    from dbt.config.profile import Profile
    from dbt.config.renderer import ProfileRenderer
    from dbt.exceptions import DbtProfileError
    from dbt_common.context import set_invocation_context

    set_invocation_context(dict(env))
    try:
        return Profile.render_profile(raw_profile, name, target, ProfileRenderer({}))
    except DbtProfileError as exc:
        raise ConfigError(
            f"Cannot read target {target or '(default)'} of profile {name!r}: "
            f"{' '.join(str(exc).split())}",
            hint="Check the target's name (DBT_TARGET / --target) and its environment variables.",
        ) from None
