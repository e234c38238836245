"""The embedded local portal as a transport: requests go to its WSGI application in-process, no port."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from requests.structures import CaseInsensitiveDict


class WSGIAdapter(requests.adapters.BaseAdapter):
    """Sends requests to a WSGI application in-process (the embedded local portal): no port."""

    def __init__(self, app: Callable) -> None:
        super().__init__()
        self.app = app

    def send(self, request, **kwargs):
        from werkzeug.test import EnvironBuilder, run_wsgi_app

        url = urlsplit(request.url)
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode()
        environ = EnvironBuilder(
            path=url.path,
            query_string=url.query,
            method=request.method,
            headers=dict(request.headers),
            data=body,
            base_url=f"{url.scheme}://{url.netloc}",
        ).get_environ()
        try:
            app_iter, status, headers = run_wsgi_app(self.app, environ)
            try:
                content = b"".join(app_iter)
            finally:
                if hasattr(app_iter, "close"):
                    app_iter.close()
        except Exception as exc:  # the app died mid-answer: to a client that is a dropped connection
            raise requests.ConnectionError(f"connection dropped by the local portal: {exc}") from None
        response = requests.Response()
        response.status_code = int(status.split(" ", 1)[0])
        response.reason = status.split(" ", 1)[1] if " " in status else ""
        response.headers = CaseInsensitiveDict(headers)
        response._content = content
        response.url = request.url
        response.request = request
        response.encoding = "utf-8"
        response._content_consumed = True  # read whole: iter_content serves it from _content
        return response

    def close(self) -> None:
        pass
