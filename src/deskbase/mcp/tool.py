"""What a tool is: a name, a description written for a model, an input model, the permissions it needs (a
tool is listed only to a token that holds them somewhere), and the function that runs it in a worker thread.

Input models come from the REST API's request models (`api/schemas.py`) where one exists: `derive` copies a
model's fields (types, limits, descriptions) into the tool's model, so a tool and its route accept the same
values and refuse the rest with the same messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import mcp_types as types
from pydantic import BaseModel, ConfigDict, Field, create_model

from deskbase.core.auth import permits
from deskbase.core.context import Actor

#: Records, tickets or rows one tool call returns at most (a model reads every one of them).
MAX_PAGE = 100
WORKSPACE_HELP = (
    'Workspace id (e.g. "acme"). Optional when the token reaches exactly one workspace; otherwise the '
    "error names the workspaces it reaches."
)


FILTER_HELP = (
    "Filter language: {field, op, value} or {and|or: [...]}. Fields: data.<name> (subject, status, priority, "
    "assignee, category, channel, tags …) or id, number, created_at, updated_at. Ops: eq neq gt gte lt lte in "
    'not_in like ilike is_null is_not_null has (array contains) search (words). Example: {"and": [{"field": '
    '"data.status", "op": "in", "value": ["open", "in_progress"]}, {"field": "data.assignee", "op": '
    '"is_null"}]}'
)


class SortKey(BaseModel):
    model_config = ConfigDict(extra="forbid")
    field: str = Field(description="data.<name>, or id, number, created_at, updated_at.")
    direction: Literal["asc", "desc"] = "asc"


class Args(BaseModel):
    """Arguments of a tool on `/mcp`: unknown names are refused (a typo should not pass silently)."""

    model_config = ConfigDict(extra="forbid")
    workspace: str | None = Field(None, max_length=63, description=WORKSPACE_HELP)


def derive(
    model_name: str, source: type[BaseModel], /, exclude: tuple[str, ...] = (), **extra: Any
) -> type[Args]:
    """A tool's input model made of `source`'s fields (minus `exclude`) and `extra` ones (`(type, Field)`)."""
    fields: dict[str, Any] = {
        n: (f.annotation, f) for n, f in source.model_fields.items() if n not in exclude and n != "workspace"
    }
    fields.update(extra)
    return create_model(model_name, __base__=Args, **fields)  # type: ignore[call-overload,no-any-return]


@dataclass(frozen=True)
class Need:
    """A permission a tool checks: in a collection (None: somewhere in the workspace), or over the whole
    workspace (a grant without collection limits, as SQL needs)."""

    permission: str
    collection: str | None = None
    whole_workspace: bool = False

    def met(self, actor: Actor, workspace_id: str) -> bool:
        return permits(
            actor, self.permission, workspace_id, self.collection, whole_workspace=self.whole_workspace
        )


Run = Callable[[Any, Any], dict[str, Any]]


class Listed(Protocol):
    """What the server needs of a tool, fixed (`Tool`) or generated from a collection (`factory`)."""

    @property
    def name(self) -> str: ...

    def usable(self, actor: Actor, workspace_id: str) -> bool: ...

    def listing(self, workspace_required: bool) -> types.Tool: ...

    def invoke(self, caller: Any, arguments: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Tool:
    name: str
    title: str
    description: str
    args: type[BaseModel]
    run: Run  #: (Caller, validated args) -> result object; runs in a worker thread
    needs: tuple[Need, ...]
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    schema: dict[str, Any] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", clean_schema(self.args.model_json_schema()))

    def usable(self, actor: Actor, workspace_id: str) -> bool:
        return all(n.met(actor, workspace_id) for n in self.needs)

    def invoke(self, caller: Any, arguments: dict[str, Any]) -> dict[str, Any]:
        """Validate the arguments against the input model (pydantic's errors become `validation_failed`),
        then run the tool; called in a worker thread."""
        return self.run(caller, self.args.model_validate(arguments))

    def listing(self, workspace_required: bool) -> types.Tool:
        schema = self.schema
        if workspace_required and "workspace" in schema.get("properties", {}):
            schema = {**schema, "required": ["workspace", *schema.get("required", [])]}
        return types.Tool(
            name=self.name,
            title=self.title,
            description=self.description,
            input_schema=schema,
            annotations=types.ToolAnnotations(
                title=self.title,
                read_only_hint=self.read_only,
                destructive_hint=self.destructive if not self.read_only else None,
                idempotent_hint=self.idempotent if not self.read_only else None,
                open_world_hint=False,
            ),
        )


def clean_schema(schema: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """Pydantic's schema without its `title` noise (a model reads every token of it) and without the
    properties in `drop`."""
    out = {k: v for k, v in schema.items() if k != "title"}
    props = out.get("properties")
    if isinstance(props, dict):
        out["properties"] = {
            k: {a: b for a, b in v.items() if a != "title"} for k, v in props.items() if k not in drop
        }
    if drop and "required" in out:
        out["required"] = [r for r in out["required"] if r not in drop]
    defs = out.get("$defs")
    if isinstance(defs, dict):
        out["$defs"] = {k: clean_schema(v) for k, v in defs.items()}
    return out
