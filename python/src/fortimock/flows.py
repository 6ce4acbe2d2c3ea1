"""The flows a test needs in one call: a license imported on a virtual appliance, a token provisioned, a
phone activated, an OTP, a push approved. Each step is the real exchange (the appliance and the phone talk
to forticare, ftm and the push relay as FortiOS and FortiToken Mobile do); the helpers only save typing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from .client import FIVE_SEAT_CODE, Json, Lab

__all__ = [
    "Imported",
    "Provisioned",
    "Activated",
    "import_license",
    "provision_token",
    "activate_phone",
    "ready_user",
    "otp",
    "login_with_otp",
    "login_with_push",
]


@dataclass(frozen=True)
class Imported:
    """A virtual appliance that imported a license."""

    serial: str
    license: str
    tokens: List[str]


@dataclass(frozen=True)
class Provisioned:
    """A token assigned to a user on an appliance, waiting for the user's phone."""

    serial: str
    user: str
    token: str
    activation_code: str


@dataclass(frozen=True)
class Activated:
    """A user whose token is on a phone, and the appliance has polled to see it activated."""

    serial: str
    user: str
    token: str
    phone: str


def import_license(lab: Lab, code: str = FIVE_SEAT_CODE, *, push: bool = False, **appliance: Any) -> Imported:
    """A new virtual FortiGate (``appliance``: its ``serial``, ``mode``, ``version``, …) that imported the
    license ``code`` (default: the built-in lab's 5-seat license). ``push=True`` turns its ftm-push
    listener on (on a free port) so that push logins work."""
    if push:
        appliance.setdefault("ftm_push", {"status": True, "server_port": 0})
    created = lab.appliances.create(**appliance)
    serial = str(created["serial"])
    outcome = lab.appliances.import_license(serial, code)
    return Imported(serial=serial, license=str(outcome["license"]), tokens=[str(t) for t in outcome["tokens"]])


def provision_token(lab: Lab, serial: str, user: str = "alice", token: str = "any") -> Provisioned:
    """Assigns ``token`` (default: any available one) on appliance ``serial`` to ``user``."""
    outcome = lab.appliances.provision(serial, user, token)
    view: Json = outcome["token"]
    return Provisioned(
        serial=serial, user=user, token=str(view["serial"]), activation_code=str(view["activation_code"])
    )


def activate_phone(lab: Lab, provisioned: Provisioned, phone: Optional[str] = None, **new_phone: Any) -> Activated:
    """Activates ``provisioned`` on ``phone`` (default: a new phone made from ``new_phone``), then polls
    the appliance, which now shows the token assigned."""
    if phone is None:
        phone = str(lab.phones.create(**new_phone)["id"])
    lab.phones.activate(phone, provisioned.activation_code)
    lab.appliances.poll(provisioned.serial)
    return Activated(serial=provisioned.serial, user=provisioned.user, token=provisioned.token, phone=phone)


def ready_user(
    lab: Lab, user: str = "alice", code: str = FIVE_SEAT_CODE, *, push: bool = False, **appliance: Any
) -> Activated:
    """The whole chain in one call: an appliance imports ``code``, provisions a token for ``user``, a new
    phone activates it, and the appliance polls. ``push=True`` makes push logins possible."""
    imported = import_license(lab, code, push=push, **appliance)
    return activate_phone(lab, provision_token(lab, imported.serial, user))


def otp(lab: Lab, activated: Activated) -> str:
    """The code the user's phone shows now for their token."""
    return str(lab.phones.otp(activated.phone, activated.token)["otp"])


def login_with_otp(lab: Lab, activated: Activated) -> Json:
    """The user logs in to the appliance with the code their phone shows now: the login outcome."""
    return lab.appliances.login(activated.serial, activated.user, otp(lab, activated))


def login_with_push(lab: Lab, activated: Activated, answer: str = "approve") -> Json:
    """The user logs in by push (the appliance needs ``push=True``); the phone answers ``answer``
    (``approve``, ``deny`` or ``ignore``) as the push arrives. The login outcome."""
    lab.phones.change(activated.phone, push_policy=answer)
    return lab.appliances.login(activated.serial, activated.user, push=True)
