"""A small FortiCare asset-management API (v3) client, written from the documented shapes
(shared/reference/forticare-v3.md), the way customers' scripts talk to support.fortinet.com.

The token URL and the API base are settings, as in public clients, so the same client talks to FortiCare
or to fortimock. Certificates are checked against the bundle `requests` is given (REQUESTS_CA_BUNDLE).
"""

import requests

DEFAULT_TOKEN_URL = "https://customerapiauth.fortinet.com/api/v1/oauth/token/"
DEFAULT_API_BASE = "https://support.fortinet.com/ES/api/registration/v3"


class ForticareApiError(Exception):
    """A refused call: the HTTP status, the envelope's status and message, and error.errorCode."""

    def __init__(self, http_status, body):
        self.http_status = http_status
        self.body = body if isinstance(body, dict) else {}
        error = self.body.get("error") or {}
        self.error_code = error.get("errorCode") if isinstance(error, dict) else None
        self.error_message = error.get("message") if isinstance(error, dict) else error
        super().__init__(f"HTTP {http_status}: {body}")


class FortiCareClient:
    """One API user's session: a bearer token from the password grant, then POSTs with JSON bodies."""

    def __init__(self, username, password, token_url=DEFAULT_TOKEN_URL, api_base=DEFAULT_API_BASE,
                 timeout=10):
        self.username = username
        self.password = password
        self.token_url = token_url
        self.api_base = api_base.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.token = None
        self.expires_in = None

    def login(self):
        """The documented password grant; keeps the access token."""
        response = self.session.post(self.token_url, json={
            "username": self.username,
            "password": self.password,
            "client_id": "assetmanagement",
            "grant_type": "password",
        }, timeout=self.timeout)
        body = response.json()
        if response.status_code != 200:
            raise ForticareApiError(response.status_code, body)
        self.token = body["access_token"]
        self.expires_in = body["expires_in"]
        return body

    def call(self, endpoint, payload=None):
        """POST one endpoint under the API base; the answer's envelope, or ForticareApiError."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = self.session.post(f"{self.api_base}/{endpoint}", json=payload or {},
                                     headers=headers, timeout=self.timeout)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code != 200 or not isinstance(body, dict) or body.get("status") != 0:
            raise ForticareApiError(response.status_code, body)
        return body

    def register_license(self, code, serial=None, description=None):
        payload = {"licenseRegistrationCode": code}
        if serial:
            payload["serialNumber"] = serial
        if description:
            payload["description"] = description
        return self.call("licenses/register", payload)["assetDetails"]

    def licenses(self, license_number=None, sku=None, status=None):
        payload = {}
        if license_number:
            payload["licenseNumber"] = license_number
        if sku:
            payload["licenseSKU"] = sku
        if status:
            payload["status"] = status
        return self.call("licenses/list", payload)["licenses"]

    def download_license(self, serial):
        return self.call("licenses/download", {"serialNumber": serial})

    def products(self, serial=None, expire_before=None, account_id=None):
        """Every page of products/list."""
        assets, page = [], 1
        while True:
            payload = {"pageNumber": page}
            if serial:
                payload["serialNumber"] = serial
            if expire_before:
                payload["expireBefore"] = expire_before
            if account_id:
                payload["accountId"] = account_id
            body = self.call("products/list", payload)
            assets.extend(body["assets"])
            if page >= body["totalPages"]:
                return assets
            page += 1

    def product(self, serial):
        return self.call("products/details", {"serialNumber": serial})["assetDetails"]

    def register_products(self, units):
        return self.call("products/register", {"registrationUnits": units})["assets"]

    def transfer_products(self, source, target, serials):
        return self.call("products/transfer", {
            "sourceAccountId": source, "targetAccountId": target, "serialNumbers": serials,
        })["assets"]
