"""``/api/v1/rules``: user rules — threshold rules as TOML (applied live, recorded like every setting) and
Sigma rule files imported with pySigma (the detector is rebuilt at once). Trying either on history before
using it is ``POST /backtest`` with ``threshold_rules`` or ``sigma``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request
from pydantic import BaseModel, Field

from netwarden.web.auth import Principal, require

router = APIRouter(tags=["rules"])
MAX_RULE_TEXT = 200_000


def rules_view(app: Any) -> dict[str, Any]:
    from netwarden.rules import EXAMPLE, describe, sigma_folder, threshold_toml
    from netwarden.web.live_settings import current_value

    settings = app.state.settings
    table = current_value(settings, "detect.threshold")
    sigma, problem = [], None
    for detector in getattr(app.state.runtime.engine, "detectors", []):
        if detector.name == "sigma":
            sigma = [describe(r) for r in detector.compiled]
            break
    else:
        from netwarden.rules import RuleError, check_sigma
        from netwarden.detect.sigma import SigmaRules

        try:
            config = SigmaRules.Settings.model_validate(settings.detect.get("sigma", {}))
            sigma = [describe(r) for r in check_sigma(SigmaRules(config).paths)]
        except (RuleError, ValueError) as exc:
            problem = str(exc)
    return {"threshold": {"enabled": table.get("enabled", True), "rules": table.get("rules", []),
                          "toml": threshold_toml(table.get("rules", [])), "example": EXAMPLE},
            "sigma": sigma, "sigma_folder": str(sigma_folder(settings)), "sigma_problem": problem}


@router.get("/rules")
def rules(request: Request, who: Principal = Depends(require("analyst"))) -> dict[str, Any]:
    """The threshold rules in force (also as TOML) and the Sigma rules loaded."""
    return rules_view(request.app)


class ThresholdText(BaseModel):
    toml: str = Field(max_length=MAX_RULE_TEXT, description="[[rules]] tables, as in [detect.threshold]")


def set_threshold_rules(request: Request, text: str, who: Principal) -> None:
    from netwarden.rules import RuleError, parse_threshold
    from netwarden.web.live_apply import change_and_apply
    from netwarden.web.live_settings import SettingError, current_value

    try:
        rules = parse_threshold(text)
        table = {**current_value(request.app.state.settings, "detect.threshold"), "rules": rules}
        change_and_apply(request.app, {"detect.threshold": table}, who.name)
    except (RuleError, SettingError) as exc:
        raise HTTPException(400, str(exc)) from None


@router.put("/rules/threshold")
def put_threshold(request: Request, body: ThresholdText = Body(...),
                  who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Replace the threshold rules (applied at once; the change is recorded with who and when)."""
    set_threshold_rules(request, body.toml, who)
    return rules_view(request.app)


class SigmaFile(BaseModel):
    name: str = Field("rule.yml", max_length=200)
    text: str = Field(max_length=MAX_RULE_TEXT, description="the rule file's YAML")


@router.post("/rules/sigma")
def import_sigma(request: Request, body: SigmaFile = Body(...),
                 who: Principal = Depends(require("admin"))) -> dict[str, Any]:
    """Import a Sigma rule file: compiled first (a bad rule is refused with its reason), then copied into the
    folder of imported rules and in force at once."""
    from netwarden.rules import RuleError, save_sigma_text, sigma_folder
    from netwarden.web.live_apply import rebuild_detectors
    from netwarden.web.live_settings import SettingError, record_event

    try:
        imported = save_sigma_text(body.text, body.name, sigma_folder(request.app.state.settings))
        rebuild_detectors(request.app, {"sigma"})
    except (RuleError, SettingError, OSError) as exc:
        raise HTTPException(400, str(exc)) from None
    record_event(request.app.state.db, "audit.sigma_import",
                 {"file": imported[0]["file"] if imported else body.name, "rules": [r["title"] for r in imported]},
                 who.name)
    return {**rules_view(request.app), "imported": imported}
