"""The local HTTP gateway (issue 17): every service as JSON over HTTP for practice software written in
any language, with an OpenAPI 3.1 contract and a status page.

Optional, like the simulator: ``pip install 'mycarenet-dental[gateway]'`` brings the web framework
(Litestar) and the server (uvicorn); production without the extra imports and runs as before. Only
:mod:`.app` (and what only it imports) needs the extra; tokens, idempotency, settings and the routes
are plain Python over the core storage, so ``gateway token add`` works without it.
"""
