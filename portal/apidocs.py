"""The API documentation at ``/schema``, served entirely from this node.

Litestar's default pages load Redoc, Swagger UI and their fonts from a CDN, which a
node offline or in mainland China cannot reach: the page stays blank. Swagger UI's
files come from the ``swagger-ui-bundle`` package instead and are served under
``/schema-ui/``; nothing on the page names another host.
"""

from __future__ import annotations

from typing import Any

from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin, YamlRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

ASSETS = "/schema-ui"


def openapi_config() -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
        path=["/", "/swagger"],
    )
    return OpenAPIConfig(
        title="idnest",
        version="0.1.0",
        description="Secondary node (二级节点) of the industrial internet identifier "
        "resolution system: Handle.net-compatible registration and resolution.",
        path="/schema",
        render_plugins=[swagger, JsonRenderPlugin(), YamlRenderPlugin()],
        components=Components(
            security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer"),
                "handleBasic": SecurityScheme(
                    type="http",
                    scheme="basic",
                    description="user 300:{prefix}/{user}; password an API key or HS_SECKEY",
                ),
            }
        ),
    )


def assets_router() -> Any:
    return create_static_files_router(
        path=ASSETS, directories=[swagger_ui_path], include_in_schema=False
    )
