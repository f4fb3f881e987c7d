"""Lab results (JSON rows or a CSV file) and open cases. Administration only, for now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, UploadFile

from healthcode.domain.errors import InvalidInput
from healthcode.entrypoints.web.deps import Admin, Ctx
from healthcode.entrypoints.web.schemas import (
    ADMIN_RESPONSES,
    CaseOut,
    LabImportIn,
    LabImportOut,
)
from healthcode.services import labs

router = APIRouter(tags=["lab results and cases"], responses=ADMIN_RESPONSES)
MAX_CSV_BYTES = 20_000_000


def report_out(report: labs.ImportReport) -> LabImportOut:
    return LabImportOut(
        imported=report.imported, duplicates=report.duplicates, cases_opened=report.cases_opened
    )


@router.post("/lab-results", response_model=LabImportOut)
def import_rows(body: LabImportIn, ctx: Ctx, actor: Admin) -> LabImportOut:
    rows = [
        labs.LabRow(n, r.test_id, r.doc_type, r.doc_number, r.sample_time, r.result, r.lab)
        for n, r in enumerate(body.rows)
    ]
    return report_out(labs.import_results(ctx, rows, actor))


@router.post("/lab-results/csv", response_model=LabImportOut)
async def import_csv(file: Annotated[UploadFile, File()], ctx: Ctx, actor: Admin) -> LabImportOut:
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(
            f"file is larger than {MAX_CSV_BYTES} bytes", field="file", code="too_large"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("file is not UTF-8 text", field="file", code="encoding") from None
    return report_out(labs.import_results(ctx, labs.parse_csv(text), actor))


@router.get("/cases", response_model=list[CaseOut])
def open_cases(ctx: Ctx, actor: Admin) -> list[CaseOut]:
    return [
        CaseOut(
            case_id=c.case_id,
            window_start=c.window_start,
            window_end=c.window_end,
            opened_at=c.opened_at,
        )
        for c in labs.open_cases(ctx)
    ]
