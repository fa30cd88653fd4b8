"""The simulator host: a WSGI application routing eHealth/MyCareNet calls to their handlers.

The core serves the STS (``/IAM/...``) and the ETK depot; each service plugin contributes the
insurer side of its service through ``mycarenet_dental_simulator_routes``. Routing is by path and,
when a route lists SOAPActions, by action; an unknown path or action is answered as eHealth does,
with a SOAP fault carrying an SOA code. The app also runs in-process through Werkzeug's test
client, so most tests need no socket.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import attrs
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request, Response

from .population import PatientFacts, Population, SimPatient, build_population
from .registrations import SimulatorRoute

MAX_REQUEST_BYTES = 20 * 1024 * 1024
STS_PATHS = ("/IAM/SecurityTokenService/v1", "/IAM/Saml11TokenService/Legacy/v1")
ETK_PATH = "/EtkDepot/v1"


@attrs.define
class SimSwitches:
    """Fault injection, set by tests or the ``[simulator]`` config: latency, an insurer down, ..."""

    latency_s: float = 0.0
    down: set[str] = attrs.field(factory=set)  # paths answering SOA-02001
    extra: dict[str, Any] = attrs.field(factory=dict)  # plugin-specific switches


class SimState:
    """Shared state of a running simulator: trust material, population, licences, counters."""

    def __init__(self, *, pki_dir: Path | None, population: Population, licences: Mapping[str, str] | None = None,
                 clock: Callable[[], datetime] | None = None, facets: Iterable[Any] = (), hook: Any = None) -> None:
        from .memberdata import FacetRegistry

        self.pki_dir = pki_dir
        #: the simulator plugin manager's hook relay: decisions plugins take (e.g. the mandate check)
        self.hook = hook
        self.facets = FacetRegistry(facets)  # MemberData facets of the loaded plugins
        self.population = population
        self.licences = dict(licences or {})
        self._clock = clock
        self.switches = SimSwitches()
        self.lock = threading.RLock()
        self.counters: dict[str, int] = {}
        self.plugin_state: dict[str, Any] = {}
        self._trust: Any = None

    def now(self) -> datetime:
        return self._clock() if self._clock else datetime.now(timezone.utc)

    @property
    def trust(self) -> Any:
        """The simulator's PKI (CA, STS key, MyCareNet encryption key), loaded once."""
        if self._trust is None:
            from .sts import SimTrust

            if self.pki_dir is None:
                raise RuntimeError("the simulator has no PKI folder (run `mycarenet-dental simulator pki`)")
            self._trust = SimTrust.load(self.pki_dir)
        return self._trust

    def count(self, name: str, n: int = 1) -> int:
        with self.lock:
            self.counters[name] = self.counters.get(name, 0) + n
            return self.counters[name]

    def state_for(self, plugin: str, factory: Callable[[], Any]) -> Any:
        with self.lock:
            if plugin not in self.plugin_state:
                self.plugin_state[plugin] = factory()
            return self.plugin_state[plugin]

    def check_licence(self, username: str | None, password: str | None) -> bool:
        """MyCareNet's package licence check; with no licences configured any non-empty pair passes."""
        if not username or not password:
            return False
        if not self.licences:
            return True
        return self.licences.get(username) == password


@attrs.frozen
class SimResponse:
    body: bytes
    status: int = 200
    content_type: str = "text/xml; charset=utf-8"
    headers: Mapping[str, str] = attrs.field(factory=dict)


class SimRequest:
    """What a handler sees: the HTTP request, its SOAP envelope and the simulator state."""

    def __init__(self, request: Request, body: bytes, soap_action: str, state: SimState) -> None:
        self.http = request
        self.path = request.path
        self.body = body
        self.soap_action = soap_action
        self.state = state
        self._envelope: Any = None
        self.caller: Any = None

    @property
    def envelope(self) -> Any:
        """The parsed SOAP envelope (safe parser: no DTD, no entities, size-bounded)."""
        if self._envelope is None:
            from ..xmlsafe import parse_xml

            self._envelope = parse_xml(self.body, what="request")
        return self._envelope

    @property
    def body_element(self) -> Any:
        for child in self.envelope:
            if isinstance(child.tag, str) and child.tag.endswith("}Body"):
                for item in child:
                    if isinstance(item.tag, str):
                        return item
        return None

    def check_security(self, *, timestamp_only: bool = False) -> Any:
        """The service-side WS-Security check every handler runs first (SOA-01001/01002 on failure)."""
        from ..errors import MalformedResponseError
        from .wss_check import SimSoapFault, check_service_request

        # The request is parsed once: the check reads the same (read-only) tree the handler then uses.
        try:
            envelope = self.envelope
        except MalformedResponseError as exc:  # what check_service_request answers for unparsable bytes
            raise SimSoapFault("SOA-03002", f"Message must be SOAP: {exc.message}") from None
        self.caller = check_service_request(envelope, trust=self.state.trust, now=self.state.now(),
                                            timestamp_only=timestamp_only)
        return self.caller

    def soap_response(self, payload: bytes | Any, *, status: int = 200) -> SimResponse:
        """Wrap a body payload (element or serialised bytes) in a SOAP 1.1 envelope."""
        from lxml import etree

        if not isinstance(payload, bytes):
            payload = etree.tostring(payload)
        envelope = (b'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
                    b"<soapenv:Body>" + payload + b"</soapenv:Body></soapenv:Envelope>")
        return SimResponse(envelope, status=status)

    def fault(self, code: str, message: str, *, status: int = 500) -> SimResponse:
        """An eHealth SOAP fault with an SOA (or MyCareNet) code."""
        from .wss_check import soap_fault

        return SimResponse(soap_fault(code, message), status=status)


class SimulatorApp:
    """The WSGI application."""

    def __init__(self, routes: Iterable[SimulatorRoute], state: SimState) -> None:
        self.state = state
        self.sim_pm: Any = None  # the simulator plugin manager build_app loaded (demo steps, population)
        self.routes: dict[str, list[SimulatorRoute]] = {}
        for route in routes:
            self.routes.setdefault(route.path.rstrip("/"), []).append(route)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        if response.headers or response.status not in _STATUS_LINES:
            wsgi = Response(response.body, status=response.status, content_type=response.content_type,
                            headers=dict(response.headers))
            return wsgi(environ, start_response)
        # The common case written directly: what Werkzeug's Response sends for a byte body and a content
        # type (status line, Content-Type, Content-Length), without building a Response per request.
        body = response.body
        start_response(_STATUS_LINES[response.status],
                       [("Content-Type", response.content_type), ("Content-Length", str(len(body)))])
        return [body]

    def dispatch(self, request: Request) -> SimResponse:
        from ..errors import MyCareNetDentalError

        state = self.state
        if state.switches.latency_s:
            time.sleep(state.switches.latency_s)
        if request.content_length and request.content_length > MAX_REQUEST_BYTES:
            return self._fault(request, "SOA-03001", "message too large", 413)
        body = request.get_data(cache=False)
        soap_action = (request.headers.get("SOAPAction") or "").strip().strip('"')
        if not soap_action:  # SOAP 1.2 style action in the content type
            ctype = request.headers.get("Content-Type", "")
            if "action=" in ctype:
                soap_action = ctype.split("action=", 1)[1].split(";")[0].strip().strip('"')
        path = request.path.rstrip("/")
        state.count(f"requests:{path}")
        if path in state.switches.down:
            return self._fault(request, "SOA-02001", "service not available", 503)
        candidates = self.routes.get(path)
        if not candidates:
            return self._fault(request, "SOA-02001", f"no service at {path}", 404)
        route = next((r for r in candidates if not r.soap_actions or soap_action in r.soap_actions), None)
        if route is None:
            return self._fault(request, "SOA-03005", f"unknown SOAPAction {soap_action!r} for {path}", 500)
        sim_request = SimRequest(request, body, soap_action, state)
        try:
            return route.handler(sim_request)
        except MyCareNetDentalError as exc:  # e.g. malformed XML refused by the safe parser
            return self._fault(request, "SOA-03002", exc.messages.en, 500)
        except Exception as exc:
            fault = getattr(exc, "to_response_bytes", None)
            if callable(fault):  # a simulator fault raised by a check (e.g. SOA-01001)
                return SimResponse(fault(), status=int(getattr(exc, "http_status", 500)))
            raise

    def _fault(self, request: Request, code: str, message: str, status: int) -> SimResponse:
        from .wss_check import soap_fault

        return SimResponse(soap_fault(code, message), status=status)


# Status lines as Werkzeug writes them, for the statuses the simulator answers with.
_STATUS_LINES = {code: f"{code} {HTTP_STATUS_CODES[code].upper()}" for code in (200, 400, 404, 413, 500, 502, 503)}


#: ``[simulator] switches``: let the STS also take the WS-Trust 1.3 KeyType spelling (``…/ws-trust/…``).
SWITCH_STS_OASIS_KEY_TYPE = "sts.accept_oasis_key_type"


def core_routes() -> list[SimulatorRoute]:
    """The eHealth side the core hosts: STS (WS-Trust and legacy) and the ETK depot."""

    def sts(request: SimRequest) -> SimResponse:
        from .sts import handle_sts_request

        trust = request.state.trust
        if request.state.switches.extra.get(SWITCH_STS_OASIS_KEY_TYPE) and not trust.accept_oasis_key_type:
            trust = attrs.evolve(trust, accept_oasis_key_type=True)
        return SimResponse(handle_sts_request(request.body, soap_action=request.soap_action,
                                              trust=trust, now=request.state.now()))

    def etk(request: SimRequest) -> SimResponse:
        from .etk_depot import handle_etk_request

        return SimResponse(handle_etk_request(request.body, trust=request.state.trust))

    routes = [SimulatorRoute(path=p, handler=sts, name="eHealth STS") for p in STS_PATHS]
    routes.append(SimulatorRoute(path=ETK_PATH, handler=etk, name="eHealth ETK depot"))
    return routes


def build_app(pm: Any, *, pki_dir: Path | None, licences: Mapping[str, str] | None = None,
              clock: Callable[[], datetime] | None = None, sim_pm: Any = None) -> SimulatorApp:
    """Assemble the simulator from the core routes and the simulator side of every loaded plugin.

    ``pm`` is the production plugin manager: only the simulator sides of the plugins it loaded are
    loaded (``sim_pm`` overrides that, e.g. in tests). MemberData is hosted whenever a plugin yields
    a facet (insurability, DMG route A...), so any subset of plugins gets the endpoints it needs.
    """
    from .memberdata import memberdata_route
    from .plugins import make_sim_plugin_manager

    sim_pm = sim_pm if sim_pm is not None else make_sim_plugin_manager(pm)
    contributions: list[SimPatient | PatientFacts] = [rec for _, rec in sim_pm.collect("mycarenet_dental_simulator_population")]
    facets = collect_facets(sim_pm)
    state = SimState(pki_dir=pki_dir, population=build_population(contributions), licences=licences, clock=clock,
                     facets=facets, hook=sim_pm.hook)
    routes = core_routes() + ([memberdata_route()] if facets else [])
    routes += [rec for _, rec in sim_pm.collect("mycarenet_dental_simulator_routes")]
    sim_pm.hook.mycarenet_dental_simulator_setup(state=state)
    app = SimulatorApp(routes, state)
    app.sim_pm = sim_pm
    return app


def collect_facets(sim_pm: Any) -> list[Any]:
    """The MemberData facet handlers the loaded plugins yield; one facet answered by two plugins is refused."""
    from ..plugins import PluginConflictError

    owners: dict[str, str] = {}
    facets = []
    for plugin, handler in sim_pm.collect("mycarenet_dental_simulator_facets"):
        if handler.facet_id in owners:
            raise PluginConflictError(f"MemberData facet {handler.facet_id!r} is answered by two plugins: "
                                      f"{owners[handler.facet_id]!r} and {plugin!r}")
        owners[handler.facet_id] = plugin
        facets.append(handler)
    return facets
