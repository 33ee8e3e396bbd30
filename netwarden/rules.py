"""User rules as people write them: threshold rules as TOML (``[[rules]]`` tables, the ``[detect.threshold]``
format) and Sigma rule files imported into NetWarden's folder of rules. Shared by ``netwarden rules`` and the
Rules page; both validate with the detectors' own code (netwarden.detect.threshold, netwarden.detect.sigma).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

EXAMPLE = '''[[rules]]
name = "ssh_root_failures"
description = "failed SSH logins as root from one address"
where = { source_kind = "ssh", outcome = "failure", user = "root" }
by = "src_ip"
window = "5m"
count = 10
severity = "high"
tags = ["attack.credential_access", "attack.t1110"]
'''


class RuleError(ValueError):
    """Rules that cannot be used; the message says which and why."""


def parse_threshold(text: str) -> list[dict[str, Any]]:
    """``[[rules]]`` tables (TOML) → the rules, validated; RuleError with the line or field otherwise."""
    from netwarden.detect.threshold import ThresholdRules

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"rules"})
    if unknown:
        raise RuleError(f"only [[rules]] tables are expected, not {', '.join(unknown)}")
    rules = data.get("rules", [])
    try:
        settings = ThresholdRules.Settings.model_validate({"rules": rules})
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise RuleError("; ".join(problems)) from None
    return [r.model_dump(mode="json") for r in settings.rules]


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def threshold_toml(rules: list[dict[str, Any]]) -> str:
    """The rules as ``[[rules]]`` tables (what parse_threshold reads back)."""
    blocks = []
    for rule in rules:
        lines = ["[[rules]]"]
        for name, value in rule.items():
            if value in ("", [], {}) and name in ("description", "tags"):
                continue
            lines.append(f"{_key(name)} = {_toml_value(value)}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# -- Sigma --------------------------------------------------------------------------------------------

def sigma_folder(settings: Any) -> Path:
    from netwarden.detect.sigma import SigmaRules

    table = settings.detect.get("sigma", {})
    return Path(table.get("imported", SigmaRules.Settings().imported))


def describe(rule: Any) -> dict[str, Any]:
    return {"title": rule.title, "id": rule.id, "level": str(rule.level), "tags": rule.tags, "attack": rule.attack,
            "file": Path(rule.file).name, "description": rule.description}


def check_sigma(paths: list[str]) -> list[Any]:
    """Compile the rules of these files or folders (nothing is copied); RuleError naming the bad rule."""
    from netwarden.detect.sigma import SigmaError, load_rules

    try:
        return load_rules(paths)
    except SigmaError as exc:
        raise RuleError(str(exc)) from None


def import_sigma(paths: list[str], folder: Path) -> list[dict[str, Any]]:
    """Check every rule first (all or nothing), then copy the files that hold a rule into ``folder``: a file of
    the same name and other content is kept and the new one gets a suffix. Returns the imported rules."""
    files: list[Path] = []
    for text in paths:
        path = Path(text)
        files += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml")) if path.is_dir() else [path]
    if not files:
        raise RuleError("no .yml or .yaml files found")
    rules = check_sigma([str(f) for f in files])
    holding = {rule.file for rule in rules}
    files = [f for f in files if str(f) in holding]  # an empty file would be copied and load nothing, forever
    if not files:
        raise RuleError("no Sigma rule found: a rule is a YAML mapping with title, logsource and detection")
    folder.mkdir(parents=True, exist_ok=True)
    placed: dict[str, str] = {}
    for file in files:
        body = file.read_bytes()
        target = folder / file.name
        if target.exists() and target.read_bytes() != body:
            target = folder / f"{file.stem}-{hashlib.sha256(body).hexdigest()[:8]}{file.suffix}"
        shutil.copyfile(file, target)
        placed[str(file)] = target.name
    out = []
    for rule in rules:
        item = describe(rule)
        item["file"] = placed.get(rule.file, item["file"])
        out.append(item)
    return out


def save_sigma_text(text: str, name: str, folder: Path) -> list[dict[str, Any]]:
    """An uploaded rule file: checked in a scratch file, then imported under its (cleaned) name."""
    import re
    import tempfile

    clean = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name).strip("._") or "rule"
    if not clean.endswith((".yml", ".yaml")):
        clean += ".yml"
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / clean
        try:
            path.write_text(text, encoding="utf-8")
        except UnicodeEncodeError:
            raise RuleError(f"{clean}: not UTF-8 text") from None
        try:
            return import_sigma([str(path)], folder)
        except RuleError as exc:  # the scratch folder means nothing to the person: name the upload
            raise RuleError(str(exc).replace(str(path), clean)) from None
