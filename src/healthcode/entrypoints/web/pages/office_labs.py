"""Importing a laboratory's CSV file of results: the same checks and the same service as
POST /lab-results/csv (routes_labs.py).

The import is one transaction (every row is checked first; one bad row refuses the whole file),
so there is no per-row progress to poll: the page shows the upload's progress (htmx reports the
browser's upload progress events; static/js/office_labs.js draws them), then the summary, or
every bad row with its line and field. Without JavaScript the form posts and the page answers
with the same summary.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from healthcode.domain.errors import DomainError, InvalidInput
from healthcode.entrypoints.web.deps import Ctx
from healthcode.entrypoints.web.errors import status_of
from healthcode.entrypoints.web.pages.rendering import PageRoute, render
from healthcode.entrypoints.web.routes_labs import MAX_CSV_BYTES
from healthcode.entrypoints.web.security import Caller
from healthcode.services import labs
from healthcode.services.auth import actor_for

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ACTIONS = {
    ("GET", "/office/labs"): "lab.import",
    ("POST", "/office/labs"): "lab.import",
}


def _page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    """The whole page, or for htmx only the result panel it swaps in."""
    values: dict[str, object] = {"report": None, "error": None, "rows": [], "filename": ""}
    values.update(context)
    partial = request.headers.get("hx-request") == "true"
    template = "office/_lab_result.html" if partial else "office/labs.html"
    return render(request, template, status, **values)


@router.get("/office/labs", response_class=HTMLResponse)
def labs_page(request: Request) -> HTMLResponse:
    return _page(request)


async def _text_of(file: UploadFile | None) -> str:
    if file is None or not file.filename:
        raise InvalidInput("choose a CSV file to upload", field="file", code="required")
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(
            f"file is larger than {MAX_CSV_BYTES} bytes", field="file", code="too_large"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file is not UTF-8 text", field="file", code="encoding") from None


@router.post("/office/labs", response_class=HTMLResponse)
async def import_labs(
    request: Request,
    caller: Caller,
    ctx: Ctx,
    file: Annotated[UploadFile | None, File()] = None,
) -> HTMLResponse:
    filename = (file.filename or "") if file else ""
    try:
        rows = await run_in_threadpool(labs.parse_csv, await _text_of(file))
        actor = actor_for(ctx, caller)
        report = await run_in_threadpool(labs.import_results, ctx, rows, actor)
    except DomainError as exc:
        bad = getattr(exc, "errors", [])
        return _page(request, status_of(exc), error=exc, rows=bad, filename=filename)
    return _page(request, report=report, filename=filename)
