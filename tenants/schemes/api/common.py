"""What every schemes API module needs: JSON answers, JSON bodies, and GS1 keys taken
from the raw path. (The caller arrives as the ``principal`` dependency, tenants.auth.)"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from litestar import Request, Response
from litestar.params import QueryParameter

from core.errors import InvalidValue
from core.limits import MAX_PAGE as LIMIT_PAGE
from tenants.schemes.services.items import MAX_PAGE

S = TypeVar("S")
JSON = "application/json"
Page = Annotated[int, QueryParameter(name="page", ge=0, le=LIMIT_PAGE, required=False)]
BoundedPage = Annotated[int, QueryParameter(name="page", ge=0, le=MAX_PAGE, required=False)]
PageSize = Annotated[int, QueryParameter(name="pageSize", ge=1, le=1000, required=False)]


def _enc(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return obj.isoformat().replace("+00:00", "Z")
    raise NotImplementedError


def ok(body: Any, status: int = 200) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(body, enc_hook=_enc), status_code=status, media_type=JSON
    )


async def json_body(request: Request[Any, Any, Any], kind: type[S]) -> S:
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != JSON and not ctype.endswith("+json"):
        raise InvalidValue(
            f"the body must be JSON (Content-Type: application/json), got {ctype or 'none'!r}",
            field="content-type",
        )
    try:
        return msgspec.json.decode(await request.body(), type=kind)
    except msgspec.ValidationError as exc:
        raise InvalidValue(f"body: {exc}", field="body") from None
    except msgspec.DecodeError as exc:
        raise InvalidValue(f"the body is not valid JSON: {exc}", field="body") from None


def raw_key(request: Request[Any, Any, Any], marker: str, decoded: str) -> str:
    """The GS1 key path after `marker` in the raw request path. {key:path} arrives
    percent-decoded, but a Digital Link value may hold an escaped "/": keep escapes."""
    raw = request.scope.get("raw_path") or b""
    raw_text = raw.split(b"?", 1)[0].decode("latin-1")
    return raw_text[raw_text.index(marker) + len(marker) - 1 :] if marker in raw_text else decoded
