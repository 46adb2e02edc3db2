"""OpenAI ``/v1/models``: the predictors' model names and their aliases."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from voicestack.text import shown
from voicestack_router.auth import check_api_key
from voicestack_router.errors import ApiError
from voicestack_router.models_registry import all_models

router = APIRouter(prefix="/v1", tags=["OpenAI models"], dependencies=[Depends(check_api_key)])


@router.get("/models", summary="List models")
async def list_models(request: Request) -> dict[str, Any]:
    """Every model id the router accepts (`whisper-1`, `tts-1`, … and the predictors' own names)."""
    return {"object": "list", "data": all_models(request.app.state.settings)}


@router.get("/models/{model_id:path}", summary="Retrieve a model")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    """One model by id or alias; 404 `model_not_found` otherwise."""
    for card in all_models(request.app.state.settings):
        if card["id"] == model_id:
            return card
    raise ApiError(404, f"The model {shown(model_id)} does not exist.", param="model", code="model_not_found")
