"""zo2.simulate: `zo2 simulate --format json` in-process (the same code), for a model, profile and policy."""
from __future__ import annotations

import json
from typing import Any, Optional

from ._native import native
from .policy import Policy


def simulate(model: str = "opt-1.3b", profile: str = "h100-targets", *, batch: int = 1, seq: int = 2048,
             layers: int = 0, first_step: int = 0, steps: int = 0, pageable: bool = False, plan: Optional[str] = None,
             policy: Optional[Policy] = None, **policy_fields: Any) -> dict[str, Any]:
    """Simulates ZO2 steps in virtual time on a hardware profile; returns what `zo2 simulate --format json` prints
    (step_seconds, tokens_per_second, link and GPU use, peak memory, the resolved policy, memory terms, ...).

    model: a preset or a directory/config.json; profile: a name under simulator/profiles or a JSON file.
    policy fields as keywords (offload="all", prefetch=2, writeback=4, prefetch_next=True, ...) or a zo2.Policy; a
    field left out takes `zo2 simulate`'s default (offload all, dtype fp16). Raises ValueError for an unknown field
    or a bad value, naming it.

    Example: zo2.simulate(model="opt-175b", profile="h200-measured", prefetch=2, writeback=4)["step_seconds"]
    """
    fields: dict[str, Any] = {}
    if policy is not None:
        fields.update(policy.to_json())
    for key, value in policy_fields.items():
        if isinstance(value, bool):
            value = "on" if value else "off"
        elif key == "offload" and not isinstance(value, str):
            value = ",".join(str(int(v)) for v in value)
        fields[key] = value
    request = {"model": str(model), "profile": str(profile), "batch": int(batch), "seq": int(seq),
               "layers": int(layers), "first_step": int(first_step), "steps": int(steps), "pageable": bool(pageable),
               "policy": fields}
    if plan is not None:
        request["plan"] = str(plan)
    return json.loads(native.simulate_json(json.dumps(request)))
