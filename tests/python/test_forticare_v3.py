"""Drives fortimock's FortiCare v3 API with forticare_v3_client, as a customer's script would, and checks
what comes back. Run by the e2e test `forticare_v3::python_client` with the suite's URLs in the
environment (FORTICARE_TOKEN_URL, FORTICARE_API_BASE, FORTIMOCK_FTM_URL, FORTICARE_API_USER,
FORTICARE_API_PASSWORD, REQUESTS_CA_BUNDLE). Prints one line per check and `N passed, N failed`.
"""

import os
import sys

import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from forticare_v3_client import FortiCareClient, ForticareApiError  # noqa: E402

SERIAL = "FGVM01TM00000777"
CODE = "5050-5050-5050-5050-5050"
RESULTS = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        RESULTS["passed"] += 1
        print(f"ok   {name}")
    else:
        RESULTS["failed"] += 1
        print(f"FAIL {name} {detail}")


def refused(call):
    try:
        call()
    except ForticareApiError as error:
        return error
    return None


def soft_token_import(ftm_url, serial, code):
    body = {"d": {"__type": "SoftToken.ActivationLicenseRequest", "__version": "4",
                  "serial_number": serial, "__device_version": "7.4", "__device_build": "2829",
                  "__clustered_sns": [{"sn": serial}], "license_activation_code": code}}
    response = requests.post(f"{ftm_url}/SoftToken/Provisioning.asmx/Process", json=body, timeout=10)
    return response.json()["d"]


def main():
    client = FortiCareClient(
        os.environ["FORTICARE_API_USER"], os.environ["FORTICARE_API_PASSWORD"],
        token_url=os.environ["FORTICARE_TOKEN_URL"], api_base=os.environ["FORTICARE_API_BASE"])
    ftm = os.environ["FORTIMOCK_FTM_URL"]

    error = refused(lambda: client.call("licenses/list"))
    check("a call without a token is 401", error is not None and error.http_status == 401, error)
    wrong = FortiCareClient(client.username, "wrong", token_url=client.token_url, api_base=client.api_base)
    error = refused(wrong.login)
    check("a wrong password is refused", error is not None and error.http_status == 401, error)

    answer = client.login()
    check("the token lasts 14400 s", answer["expires_in"] == 14400 and answer["token_type"] == "Bearer")

    details = client.register_license(CODE, SERIAL, "registered by a script")
    check("licenses/register registers the EFTM code to the serial",
          details["license"]["serialNumber"] == SERIAL and details["license"]["status"] == "Registered",
          details)
    listed = client.licenses(sku="FTM-ELIC-50")
    check("licenses/list lists it", [l["licenseNumber"] for l in listed] == ["EFTM000000000050"], listed)
    check("licenses/list filters by status", client.licenses(status="Pending") == [])
    products = client.products(serial="FGVM%")
    check("products/list finds the product with SQL-LIKE wildcards",
          [p["serialNumber"] for p in products] == [SERIAL], products)
    product = client.product(SERIAL)
    check("products/details shows the FortiToken Mobile entitlement",
          product["entitlements"][0]["typeDesc"] == "FortiToken Mobile", product)
    check("licenses/download names the license",
          "EFTM000000000050" in client.download_license(SERIAL)["licenseFile"])

    granted = soft_token_import(ftm, SERIAL, CODE)
    check("an import from the registered serial succeeds",
          granted["error"] is None and granted["license"] == "EFTM000000000050", granted)
    other = soft_token_import(ftm, "FGVM01TM00000778", CODE)
    check("an import from another serial is refused",
          other["error"] is not None and other["error"]["error_code"] == 18, other)

    assets = client.register_products([{"serialNumber": "FGT60FTK20000777", "cloudKey": "CLOUDKEY1"}])
    check("products/register registers a unit", assets[0]["status"] == 0, assets)
    error = refused(lambda: client.register_products([{"serialNumber": "FGT60FTK20000777",
                                                       "cloudKey": "CLOUDKEY1"}]))
    check("registering it again is errorCode 301 with the unit's message",
          error is not None and error.error_code == 301
          and error.body["assets"][0]["message"].startswith("Product-> Product already registered"),
          error)
    error = refused(lambda: client.register_products([{"serialNumber": "FGT60FTK20000778", "cloudKey": "?"}]))
    check("a bad cloud key is errorCode 102",
          error is not None and error.error_code == 102
          and error.error_message == "Invalid cloud key provided for registration units[0]. ", error)
    error = refused(lambda: client.transfer_products(1000000, 1000002, ["FGT60FTK20000777"]))
    check("moving a product outside the organization is refused",
          error is not None and error.http_status == 400 and error.error_code == 206, error)
    error = refused(lambda: client.call("licenses/list", {"status": "Lost"}))
    check("a bad request is HTTP 400 with the v3 envelope",
          error is not None and error.http_status == 400 and error.body.get("version") == "3.0"
          and error.body.get("status") == -1, error)

    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    return 0 if RESULTS["failed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
