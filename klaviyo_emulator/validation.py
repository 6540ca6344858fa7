"""Request-body checks written from Klaviyo's operation schemas (no OpenAPI file read at run time).

A schema here is a small dict: ``{"type": "object"|"array"|"string"|"number"|"scalar"|"any",
"props": {...}, "required": [...], "enum": [...], "items": {...}, "nullable": bool,
"open": bool}``. Objects are closed unless ``open``: an unknown member is refused the way
Klaviyo refuses it (400, ``source.pointer`` at the member).
"""

from __future__ import annotations

from typing import Any

from klaviyo_emulator.errors import ApiError, invalid

Schema = dict[str, Any]
MAX_PROFILE_BYTES = 100 * 1024  # one profile of a bulk import job


def _s(t: str, **kw: Any) -> Schema:
    return {"type": t, **kw}


def _nstr() -> Schema:
    return _s("string", nullable=True)


LOCATION: Schema = _s(
    "object",
    props={
        **{k: _nstr() for k in ("address1", "address2", "city", "country", "region", "zip",
                                 "timezone", "ip")},
        "latitude": _s("scalar", nullable=True),
        "longitude": _s("scalar", nullable=True),
    },
)
_IDENT_ATTRS = ("email", "phone_number", "external_id")
_TEXT_ATTRS = ("first_name", "last_name", "organization", "locale", "title", "image")
PROFILE_ATTRIBUTES: Schema = _s(
    "object",
    props={
        **{k: _nstr() for k in (*_IDENT_ATTRS, "_kx", *_TEXT_ATTRS)},
        "location": LOCATION,
        "properties": _s("object", nullable=True, open=True),
    },
)
PROFILE_META: Schema = _s(
    "object",
    props={
        "patch_properties": _s(
            "object",
            props={
                "append": _s("object", nullable=True, open=True),
                "unappend": _s("object", nullable=True, open=True),
                "unset": _s("string_or_list", nullable=True),
            },
        ),
        "patch_identifiers": _s(
            "object", props={"append": _s("object", open=True),
                             "unappend": _s("object", open=True)}
        ),
    },
)


def _profile_resource(id_required: bool, with_kx: bool = True) -> Schema:
    attrs = PROFILE_ATTRIBUTES
    if not with_kx:
        attrs = {**attrs, "props": {k: v for k, v in attrs["props"].items() if k != "_kx"}}
    return _s(
        "object",
        props={
            "type": _s("string", enum=["profile"]),
            "id": _s("string", nullable=not id_required),
            "attributes": attrs,
            "meta": PROFILE_META,
        },
        required=["type", "id", "attributes"] if id_required else ["type", "attributes"],
    )


def _linkage(type_: str) -> Schema:
    return _s(
        "object",
        props={"type": _s("string", enum=[type_]), "id": _s("string")},
        required=["type", "id"],
    )


_LIST_ATTRS = {
    "name": _s("string"),
    "opt_in_process": _s("string", nullable=True, enum=["double_opt_in", "single_opt_in"]),
}

BODIES: dict[str, Schema] = {
    "create_list": _s("object", required=["data"], props={"data": _s(
        "object", required=["type", "attributes"], props={
            "type": _s("string", enum=["list"]),
            "attributes": _s("object", required=["name"], props=_LIST_ATTRS),
        })}),
    "update_list": _s("object", required=["data"], props={"data": _s(
        "object", required=["type", "id", "attributes"], props={
            "type": _s("string", enum=["list"]),
            "id": _s("string"),
            "attributes": _s("object", props={
                "name": _s("string", nullable=True),
                "opt_in_process": _LIST_ATTRS["opt_in_process"],
            }),
        })}),
    "add_profiles_to_list": _s("object", required=["data"], props={
        "data": _s("array", items=_linkage("profile"))}),
    "remove_profiles_from_list": _s("object", required=["data"], props={
        "data": _s("array", items=_linkage("profile"))}),
    "bulk_import_profiles": _s("object", required=["data"], props={"data": _s(
        "object", required=["type", "attributes"], props={
            "type": _s("string", enum=["profile-bulk-import-job"]),
            "attributes": _s("object", required=["profiles"], props={
                "profiles": _s("object", required=["data"], props={
                    "data": _s("array", items=_profile_resource(False))}),
            }),
            "relationships": _s("object", props={
                "lists": _s("object", props={"data": _s("array", items=_linkage("list"))}),
            }),
        })}),
    "create_or_update_profile": _s("object", required=["data"],
                                   props={"data": _profile_resource(False)}),
    "update_profile": _s("object", required=["data"],
                         props={"data": _profile_resource(True, with_kx=False)}),
}


def _type_ok(t: str, value: Any) -> bool:
    if t == "any":
        return True
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "scalar":
        return isinstance(value, str | int | float) and not isinstance(value, bool)
    if t == "string_or_list":
        return isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    return False


_TYPE_WORDS = {"object": "an object", "array": "an array", "string": "a string",
               "number": "a number", "scalar": "a string or a number",
               "string_or_list": "a string or a list of strings"}


def validate(schema: Schema, value: Any, pointer: str = "", resource: str = "") -> None:
    """Raise ``ApiError`` for the first violation, pointing at it (``/data/attributes/x``)."""
    t = schema["type"]
    name = pointer.rsplit("/", 1)[-1] or "body"
    if value is None:
        if schema.get("nullable"):
            return
        raise invalid(f"'{name}' may not be null.", pointer=pointer or "/")
    if not _type_ok(t, value):
        raise invalid(f"'{name}' must be {_TYPE_WORDS.get(t, t)}.", pointer=pointer or "/")
    if "enum" in schema and value not in schema["enum"]:
        if name == "type":
            raise ApiError(409, "conflict",
                           f"The type '{value}' is not valid here; expected "
                           f"'{schema['enum'][0]}'.", pointer=pointer)
        raise invalid(
            f"'{value}' is not a valid choice for '{name}'; choose one of "
            + ", ".join(schema["enum"]) + ".", pointer=pointer,
        )
    if t == "object":
        props = schema.get("props", {})
        if isinstance(value.get("type"), str):
            resource = value["type"]
        for key in schema.get("required", ()):
            if key not in value:
                raise invalid(
                    f"'{key}' is a required field for the resource '{resource or 'body'}'.",
                    pointer=f"{pointer}/{key}",
                )
        if not schema.get("open"):
            for key in value:
                if key not in props:
                    raise invalid(
                        f"'{key}' is not a valid field for the resource '{resource or 'body'}'.",
                        pointer=f"{pointer}/{key}",
                    )
        for key, sub in props.items():
            if key in value:
                validate(sub, value[key], f"{pointer}/{key}", resource)
    elif t == "array" and "items" in schema:
        item = schema["items"]
        for i, v in enumerate(value):
            validate(item, v, f"{pointer}/{i}", resource)


_PROFILE_ITEM = BODIES["bulk_import_profiles"]["props"]["data"]["props"]["attributes"]["props"][
    "profiles"]["props"]["data"]["items"]
_ITEM_KEYS = frozenset(("type", "id", "attributes", "meta"))
_ATTR_KEYS = frozenset(PROFILE_ATTRIBUTES["props"])
_LOC_KEYS = frozenset(LOCATION["props"])


_NUMBER = (int, float)
_LEAF_BOUND = 48  # a fixed member's name, quotes, colon, comma and a number / bool / null
_OVER = 1 << 40  # "not bounded here": the exact size is measured


def _fast_meta_bound(meta: Any) -> int | None:
    """A profile's ``meta`` when it only unsets properties (``{"patch_properties": {"unset":
    name or [names]}}``, what a sync sends for a field gone null): an upper bound of its size
    as compact UTF-8 JSON, its members' names and punctuation included. None for anything
    else (null, another member, appends): the full check decides."""
    if type(meta) is not dict or meta.keys() - {"patch_properties"}:
        return None
    patch = meta.get("patch_properties")
    if patch is None:
        return 2 * _LEAF_BOUND if not meta else None  # {} is valid; a null patch is not
    if type(patch) is not dict or patch.keys() - {"unset"}:
        return None
    unset = patch.get("unset")
    size = 3 * _LEAF_BOUND
    if unset is None or type(unset) is str:
        return size + 6 * len(unset or "")
    if type(unset) is not list:
        return None
    try:  # one C call checks "all strings" and sums their lengths
        return size + 6 * len("".join(unset)) + 3 * len(unset)
    except TypeError:
        return None


def _fast_profile_bound(p: Any) -> int | None:
    """A quick pass for the common, valid profile: None sends it to the full check; otherwise
    an upper bound of its size as compact UTF-8 JSON (a character is at most 6 bytes there,
    ``\\u001f``), so that only a profile whose bound passes 100 KB is measured exactly."""
    if type(p) is not dict or p.get("type") != "profile" or not p.keys() <= _ITEM_KEYS:
        return None
    if p.get("id") is not None:
        return None
    size = 64
    if "meta" in p:
        meta = _fast_meta_bound(p["meta"])
        if meta is None:
            return None
        size += meta
    a = p.get("attributes")
    if type(a) is not dict or not a.keys() <= _ATTR_KEYS:
        return None
    size += _LEAF_BOUND * len(a)
    strs = a.copy()  # every member but these two is a string or null
    loc = strs.pop("location", None)
    props = strs.pop("properties", None)
    try:  # one C call checks "all strings" and sums their lengths
        size += 6 * len("".join(strs.values()))
    except TypeError:  # a null among them, or a value of another type
        for v in strs.values():
            if v is not None:
                if type(v) is not str:
                    return None
                size += 6 * len(v)
    if loc is not None:
        if type(loc) is not dict or not loc.keys() <= _LOC_KEYS:
            return None
        size += _LEAF_BOUND * len(loc)
        try:
            size += 6 * len("".join(loc.values()))
        except TypeError:
            for k, v in loc.items():
                t = type(v)
                if t is str:
                    size += 6 * len(v)
                elif v is None:
                    continue
                elif k not in ("latitude", "longitude") or t not in _NUMBER:
                    return None
                elif t is int:
                    size += v.bit_length() // 3 + 1
    if props is None:
        return size
    if type(props) is not dict:
        return None
    size += 2 * _LEAF_BOUND * len(props) + 6 * len("".join(props))  # members' names
    for v in props.values():
        t = type(v)
        if t is str:
            size += 6 * len(v)
        elif t is int:
            size += v.bit_length() // 3 + 1
        elif t is not float and t is not bool and v is not None:
            return size + _OVER  # a list or an object: measured exactly if it comes to that
    return size


def validate_body(op_id: str, body: Any) -> list[int] | None:
    """Raise ``ApiError`` for the first schema violation of ``body``.

    For a bulk import job, return the indexes of the profiles that may be over 100 KB (every
    other profile is known to be under it); None means "not known: measure every profile"."""
    schema = BODIES.get(op_id)
    if schema is None:
        return None
    if op_id != "bulk_import_profiles":
        validate(schema, body)
        return None
    # The envelope first (with the profile array emptied), then each profile, fast.
    try:
        profiles = body["data"]["attributes"]["profiles"]["data"]
    except (KeyError, TypeError):
        validate(schema, body)
        return None
    if not isinstance(profiles, list):
        validate(schema, body)
        return None
    shell = {**body, "data": {**body["data"], "attributes": {
        **body["data"]["attributes"], "profiles": {
            **body["data"]["attributes"]["profiles"], "data": []}}}}
    validate(schema, shell)
    base = "/data/attributes/profiles/data"
    suspects: list[int] = []
    for i, p in enumerate(profiles):
        bound = _fast_profile_bound(p)
        if bound is None:
            validate(_PROFILE_ITEM, p, f"{base}/{i}", "profile")
            suspects.append(i)
        elif bound > MAX_PROFILE_BYTES:
            suspects.append(i)
    return suspects
