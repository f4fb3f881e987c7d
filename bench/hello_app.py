"""The baseline of bench/http.py: a hello-world on the same server stack as healthcode (FastAPI
on uvicorn with uvloop and httptools, the same worker count, the same load generator).

    uvicorn hello_app:create_app --factory
"""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    return app
