"""A small client for a running fortimock: the control plane every service serves (scenarios, journal,
clock, reset, state), forticare's licenses, and the virtual appliances' and phones' APIs.

One method per endpoint, answers as the JSON fortimock sends (see ``/__admin/openapi.json`` on any
service, or ``/__admin/docs`` in a browser, for every field). Errors fortimock answers raise
:class:`FortimockError`; an appliance operation the emulated cloud refused raises
:class:`OperationFailed` carrying FortiOS's error code and debug lines.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Union
from urllib.parse import quote

import requests

__all__ = [
    "Json",
    "FortimockError",
    "OperationFailed",
    "Lab",
    "ControlPlane",
    "Licenses",
    "Appliances",
    "Phones",
    "SERVICES",
    "RESET_ORDER",
    "FIVE_SEAT_CODE",
]

Json = Dict[str, Any]
"""A JSON object as fortimock sends it."""

SERVICES = ("forticare", "ftm", "push", "phone", "appliance")
"""The services one ``fortimock up`` runs."""

RESET_ORDER = ("appliance", "phone", "push", "ftm", "forticare")
"""Callers before the services they call, as ``fortimock reset`` resets them."""

FIVE_SEAT_CODE = "1111-2222-3333-4444-5555"
"""The activation code of the built-in default lab's 5-seat license."""


class FortimockError(Exception):
    """fortimock refused a request: its HTTP status, stable error id and sentence."""

    def __init__(self, status: int, error_id: str, message: str) -> None:
        super().__init__(f"HTTP {status} {error_id}: {message}")
        self.status = status
        self.error_id = error_id
        self.message = message


class OperationFailed(FortimockError):
    """A virtual appliance's operation failed the way FortiOS reports it (e.g. error 16 on import)."""

    def __init__(self, status: int, failure: Json) -> None:
        super().__init__(status, str(failure.get("error_id", "")), str(failure.get("message", "")))
        self.failure = failure
        self.error_code: Optional[int] = failure.get("error_code")
        self.debug: List[str] = list(failure.get("debug", []))


def _path(template: str, *values: str) -> str:
    """``template`` with each ``{…}`` placeholder filled, in order, with a percent-encoded value."""
    out = template
    for value in values:
        start = out.index("{")
        end = out.index("}", start)
        out = out[:start] + quote(value, safe="") + out[end + 1 :]
    return out


class Lab:
    """A running fortimock: where each service listens and how to trust it.

    ``urls`` maps service names to base URLs (the ready file's content); ``ca_path`` is the lab CA's
    PEM file (``None`` over plain HTTP), ready for ``requests``' ``verify=``; ``admin_token``, when the lab
    guards its control plane with one, is sent as ``Authorization: Bearer <token>`` on every call.
    """

    def __init__(
        self,
        urls: Mapping[str, str],
        ca_path: Optional[str] = None,
        admin_token: Optional[str] = None,
        timeout: float = 30.0,
    ) -> None:
        self.urls: Dict[str, str] = dict(urls)
        self.ca_path = ca_path
        self.timeout = timeout
        self.admin_token = admin_token
        self.session = requests.Session()
        if admin_token:
            self.session.headers["Authorization"] = f"Bearer {admin_token}"

    @property
    def verify(self) -> Union[str, bool]:
        """What to pass as ``verify=`` to ``requests``: the lab CA's path, or ``True`` over plain HTTP."""
        return self.ca_path if self.ca_path else True

    @property
    def services(self) -> List[str]:
        """The HTTP services, by name: the ready file also names the SMTP listener (``smtp://``) and, with
        ``--dns-port``, the DNS responder (``dns://``)."""
        return [name for name, url in self.urls.items() if url.startswith(("https://", "http://"))]

    def url(self, service: str, path: str = "") -> str:
        """The URL of ``path`` on ``service`` (``forticare``, ``ftm``, ``push``, ``phone``, ``appliance``)."""
        try:
            return self.urls[service] + path
        except KeyError:
            raise KeyError(f"no service {service!r}; this lab runs {sorted(self.urls)}") from None

    def request(
        self, method: str, service: str, path: str, body: Optional[Any] = None
    ) -> requests.Response:
        """Sends one request with the lab's session (its CA, its admin token); the answer unread."""
        # `verify` on each request: requests lets REQUESTS_CA_BUNDLE override a session's own.
        return self.session.request(
            method, self.url(service, path), json=body, timeout=self.timeout, verify=self.verify
        )

    def call(self, method: str, service: str, path: str, body: Optional[Any] = None) -> Any:
        """Sends one request and returns the decoded answer; fortimock's refusals raise
        :class:`FortimockError`."""
        response = self.request(method, service, path, body)
        if response.status_code >= 400:
            raise _error(response)
        if not response.content:
            return None
        return response.json()

    def call_object(self, method: str, service: str, path: str, body: Optional[Any] = None) -> Json:
        """:meth:`call` for an endpoint that answers a JSON object."""
        answer = self.call(method, service, path, body)
        if not isinstance(answer, dict):
            raise FortimockError(0, "unexpected-answer", f"{method} {path}: not a JSON object: {answer!r}")
        return answer

    def control(self, service: str) -> "ControlPlane":
        """The control plane (``/__admin/…``) of ``service``."""
        self.url(service)
        return ControlPlane(self, service)

    @property
    def licenses(self) -> "Licenses":
        """forticare's licenses (``/__admin/licenses``)."""
        return Licenses(self)

    @property
    def appliances(self) -> "Appliances":
        """The virtual FortiGates and FortiAuthenticators (``/appliances``)."""
        return Appliances(self)

    @property
    def phones(self) -> "Phones":
        """The virtual FortiToken Mobile phones (``/phones``)."""
        return Phones(self)

    def reset(self) -> List[Json]:
        """Every service back to its start (callers first), scenarios and journals cleared, the clock back
        on real time: what ``fortimock reset`` does."""
        done = [self.control(s).reset() for s in RESET_ORDER if s in self.urls]
        if self.services:
            self.control(self.services[0]).change_clock(real=True)
        return done

    def state(self) -> Dict[str, Json]:
        """Every service's records (``GET /__admin/state`` on each), seeds included: keep it private."""
        return {service: self.control(service).state() for service in self.services}


def _error(response: requests.Response) -> FortimockError:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and "error_id" in body:
        return FortimockError(response.status_code, str(body["error_id"]), str(body.get("message", "")))
    return FortimockError(response.status_code, "http", response.text[:500])


class ControlPlane:
    """The control plane of one service."""

    def __init__(self, lab: Lab, service: str) -> None:
        self.lab = lab
        self.service = service

    def _call(self, method: str, path: str, body: Optional[Any] = None) -> Any:
        return self.lab.call(method, self.service, path, body)

    def _object(self, method: str, path: str, body: Optional[Any] = None) -> Json:
        return self.lab.call_object(method, self.service, path, body)

    def health(self) -> Json:
        """``GET /__admin/health``."""
        return self._object("GET", "/__admin/health")

    def ready(self) -> Json:
        """``GET /__admin/ready``."""
        return self._object("GET", "/__admin/ready")

    def clock(self) -> Json:
        """``GET /__admin/clock``: the clock every service of the process shares."""
        return self._object("GET", "/__admin/clock")

    def change_clock(
        self,
        *,
        advance_secs: Optional[int] = None,
        freeze: Optional[bool] = None,
        set: Optional[str] = None,
        real: Optional[bool] = None,
    ) -> Json:
        """``POST /__admin/clock``: move it (``advance_secs``), stop or restart it (``freeze``), jump
        (``set``: RFC 3339, a date or epoch seconds), or put it back on real time (``real=True``)."""
        change = {"advance_secs": advance_secs, "freeze": freeze, "set": set, "real": real}
        return self._object("POST", "/__admin/clock", {k: v for k, v in change.items() if v is not None})

    def advance_clock(self, secs: int) -> Json:
        """Moves the shared clock forward by ``secs`` seconds (back when negative)."""
        return self.change_clock(advance_secs=secs)

    def freeze_clock(self) -> Json:
        """Stops the shared clock where it stands."""
        return self.change_clock(freeze=True)

    def arm(self, spec: Json) -> Json:
        """``POST /__admin/scenarios`` with a full scenario (``error`` or ``status``, ``when``, ``times``,
        ``delay_ms``, ``probability``, ``rng_seed``)."""
        return self._object("POST", "/__admin/scenarios", spec)

    def arm_error(self, error: str, *, times: Optional[int] = None, **when: str) -> Json:
        """Arms catalogue error ``error`` (e.g. ``forticare.import.code-invalid``, FortiOS's error 16) for
        the requests matching ``when`` (``message_type=``, ``serial=``, …), ``times`` times or until
        cleared."""
        spec: Json = {"error": error}
        if when:
            spec["when"] = dict(when)
        if times is not None:
            spec["times"] = times
        return self.arm(spec)

    def scenarios(self) -> List[Json]:
        """``GET /__admin/scenarios``: armed and spent scenarios."""
        return list(self._call("GET", "/__admin/scenarios")["scenarios"])

    def clear_scenarios(self) -> None:
        """``DELETE /__admin/scenarios``."""
        self._call("DELETE", "/__admin/scenarios")

    def disarm(self, scenario_id: str) -> None:
        """``DELETE /__admin/scenarios/{id}``."""
        self._call("DELETE", _path("/__admin/scenarios/{id}", scenario_id))

    def journal(
        self,
        *,
        message_type: Optional[str] = None,
        path: Optional[str] = None,
        status: Optional[int] = None,
        after: Optional[int] = None,
        limit: Optional[int] = None,
    ) -> List[Json]:
        """``GET /__admin/journal``: the requests the service answered (seeds redacted), oldest first,
        filtered by every argument given."""
        query = {"message_type": message_type, "path": path, "status": status, "after": after, "limit": limit}
        params = {k: v for k, v in query.items() if v is not None}
        response = self.lab.session.get(
            self.lab.url(self.service, "/__admin/journal"),
            params=params,
            timeout=self.lab.timeout,
            verify=self.lab.verify,
        )
        if response.status_code >= 400:
            raise _error(response)
        return list(response.json()["entries"])

    def clear_journal(self) -> None:
        """``DELETE /__admin/journal``."""
        self._call("DELETE", "/__admin/journal")

    def reset(self) -> Json:
        """``POST /__admin/reset``: the service's records, scenarios and journal gone, fixtures back."""
        return self._object("POST", "/__admin/reset", {})

    def state(self) -> Json:
        """``GET /__admin/state``: the service's records."""
        return self._object("GET", "/__admin/state")

    def import_state(self, state: Json) -> Json:
        """``PUT /__admin/state``: the service's records replaced with ``state``, checked whole first."""
        return self._object("PUT", "/__admin/state", state)


class Licenses:
    """forticare's license admin API."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def create(self, seats: int, **spec: Any) -> Json:
        """``POST /__admin/licenses``: a new license of ``seats`` tokens (``id``, ``code``, ``valid_until``,
        ``owner``, … generated unless given)."""
        return self.lab.call_object("POST", "forticare", "/__admin/licenses", {"seats": seats, **spec})

    def list(self) -> List[Json]:
        """``GET /__admin/licenses``."""
        return list(self.lab.call("GET", "forticare", "/__admin/licenses")["licenses"])

    def get(self, license_id: str) -> Json:
        """``GET /__admin/licenses/{id}``."""
        return self.lab.call_object("GET", "forticare", _path("/__admin/licenses/{id}", license_id))


class Appliances:
    """The virtual appliances' API: each operation does what FortiOS does, against the emulated cloud."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def create(self, **spec: Any) -> Json:
        """``POST /appliances``: a new virtual FortiGate (``serial``, ``mode``, ``version``, ``ftm_push``, …
        generated unless given)."""
        return self.lab.call_object("POST", "appliance", "/appliances", spec)

    def list(self) -> List[Json]:
        """``GET /appliances``."""
        return list(self.lab.call("GET", "appliance", "/appliances")["appliances"])

    def get(self, serial: str) -> Json:
        """``GET /appliances/{serial}``: the unit with its token table and users."""
        return self.lab.call_object("GET", "appliance", _path("/appliances/{serial}", serial))

    def operation(self, operation: str, serial: str, body: Json) -> Json:
        """``POST /appliances/{serial}/<operation>?debug=true``: the outcome, or :class:`OperationFailed`."""
        path = _path("/appliances/{serial}/", serial) + operation + "?debug=true"
        response = self.lab.request("POST", "appliance", path, body)
        if response.status_code == 200:
            return dict(response.json())
        try:
            failure = response.json()
        except ValueError:
            failure = None
        if isinstance(failure, dict) and "error_id" in failure:
            raise OperationFailed(response.status_code, failure)
        raise _error(response)

    def import_license(self, serial: str, code: str = FIVE_SEAT_CODE) -> Json:
        """``execute fortitoken-mobile import <code>``: the license and its tokens."""
        return self.operation("import", serial, {"code": code})

    def provision(
        self, serial: str, user: str, token: str = "any", expiry_minutes: Optional[int] = None
    ) -> Json:
        """Assigns ``token`` (a serial, or ``any``) to ``user``: the appliance generates the seed and
        provisions it; the answer carries the token with its ``activation_code``."""
        body: Json = {"token": token, "user": user}
        if expiry_minutes is not None:
            body["expiry_minutes"] = expiry_minutes
        return self.operation("provision", serial, body)

    def poll(self, serial: str) -> Json:
        """``execute fortitoken-mobile poll``: the token table after asking the cloud."""
        return self.operation("poll", serial, {})

    def login(self, serial: str, user: str, otp: str = "", push: bool = False) -> Json:
        """A user logging in with an OTP (or, with ``push=True``, approving a push): the outcome, whose
        ``result`` is ``success``, ``denied``, ``replayed``, ``locked``, ``timeout``, …"""
        body: Json = {"user": user, "otp": otp}
        if push:
            body["push"] = True
        response = self.lab.request("POST", "appliance", _path("/appliances/{serial}/login", serial), body)
        outcome = response.json()
        if response.status_code not in (200, 401) or "result" not in outcome:
            raise _error(response)
        return dict(outcome)

    def change(self, serial: str, **change: Any) -> Json:
        """``PATCH /appliances/{serial}``: ``ftm_url`` and ``fortiguard_url`` set again, or
        ``follow_suite=["ftm_url", "fortiguard_url", "ftm_push.relay_url", "messaging"]`` (any of them) put
        back on the running suite's; the unit's view, whose ``follows_suite`` lists what follows the suite."""
        return self.lab.call_object("PATCH", "appliance", _path("/appliances/{serial}", serial), change)

    def ftm_push(self, serial: str, **change: Any) -> Json:
        """``config system ftm-push``: ``status``, ``server``, ``server_port``, ``timeout_secs``, …"""
        return self.lab.call_object("PATCH", "appliance", _path("/appliances/{serial}/ftm-push", serial), change)


class Phones:
    """The virtual phones' API."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab

    def create(self, **spec: Any) -> Json:
        """``POST /phones``: a new phone with FortiToken Mobile installed (``platform``: ``ios`` or
        ``android``, ``name``, ``clock_skew_secs``, …)."""
        return self.lab.call_object("POST", "phone", "/phones", spec)

    def list(self) -> List[Json]:
        """``GET /phones``."""
        return list(self.lab.call("GET", "phone", "/phones")["phones"])

    def get(self, phone: str) -> Json:
        """``GET /phones/{id}``."""
        return self.lab.call_object("GET", "phone", _path("/phones/{id}", phone))

    def change(self, phone: str, **change: Any) -> Json:
        """``PATCH /phones/{id}``: ``push_policy`` (``manual``, ``approve``, ``deny``, ``ignore``,
        ``approve_after_delay``), ``push_delay_ms``, ``clock_skew_secs``, ``registration_id``."""
        return self.lab.call_object("PATCH", "phone", _path("/phones/{id}", phone), change)

    def activate(self, phone: str, code: str) -> Json:
        """``POST /phones/{id}/activate``: the phone downloads the token's seed (once); ftm's refusal
        raises :class:`FortimockError` with its catalogue id (e.g. ``ftm.mobile.code-invalid``)."""
        return self.lab.call_object("POST", "phone", _path("/phones/{id}/activate", phone), {"code": code})

    def otp(self, phone: str, token: Optional[str] = None) -> Json:
        """``GET /phones/{id}/otp``: the code the app shows now (``otp``), for ``token`` or the only one."""
        path = _path("/phones/{id}/otp", phone)
        if token is not None:
            path += "?token=" + quote(token, safe="")
        return self.lab.call_object("GET", "phone", path)

    def inbox(self, phone: str) -> List[Json]:
        """``GET /phones/{id}/inbox``: the pushes the phone received, oldest first."""
        return list(self.lab.call("GET", "phone", _path("/phones/{id}/inbox", phone))["pushes"])

    def approve(self, phone: str, push: str = "latest") -> Json:
        """``POST /phones/{id}/inbox/{push}/approve``."""
        return self.lab.call_object("POST", "phone", _path("/phones/{id}/inbox/{push}/approve", phone, push), {})

    def deny(self, phone: str, push: str = "latest") -> Json:
        """``POST /phones/{id}/inbox/{push}/deny``."""
        return self.lab.call_object("POST", "phone", _path("/phones/{id}/inbox/{push}/deny", phone, push), {})
