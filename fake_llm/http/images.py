"""`GET /_fake/images/{W}x{H}/{digest}.png`: the images that `url` replies of the images dialect name, made again
from their size and digest on each request (nothing is kept in memory)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fake_llm.core.media import png
from fake_llm.dialects.openai.images import DIGEST, IMAGE_PATH, OpenAIImages, dimensions, served_sizes

_IMAGES = OpenAIImages()


async def serve_image(request: Request) -> Response:
    size, digest = request.path_params["size"], request.path_params["digest"]
    if size not in served_sizes() or not DIGEST.match(digest):
        return JSONResponse(_IMAGES.error_body(404, f"fake-llm: no such image {request.url.path}"), status_code=404)
    width, height = dimensions(size)
    return Response(png(width, height, digest), media_type="image/png", headers={"cache-control": "max-age=3600"})


EXTRA_ROUTES = [Route(IMAGE_PATH, serve_image, methods=["GET"])]
