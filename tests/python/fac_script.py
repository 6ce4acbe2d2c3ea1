"""A FortiAuthenticator automation script as public ones are written (requests, HTTP Basic with the admin and
its API key, bodies as ``data=json.dumps(...)`` with no content type, lists followed through ``meta.next``),
pointed at a virtual FAC by host name alone: FAC_HOST (``host:port``), FAC_ADMIN, FAC_API_KEY; the lab CA
comes from REQUESTS_CA_BUNDLE. Written from shared/reference/fortiauthenticator-rest.md; prints
``N passed, 0 failed``."""

import json
import os
import sys

import requests

HOST = os.environ["FAC_HOST"]
BASE = "https://%s/api/v1/" % HOST
AUTH = (os.environ["FAC_ADMIN"], os.environ["FAC_API_KEY"])
HEADERS = {"Accept": "application/json"}

passed = 0
failed = 0


def check(name, condition, detail=""):
    global passed, failed
    if condition:
        passed += 1
        print("ok   %s" % name)
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def get_all(resource, params=None):
    """Every object of a list, following meta.next (an absolute path) until it is null."""
    objects = []
    url = BASE + resource
    while url:
        r = requests.get(url, auth=AUTH, headers=HEADERS, params=params)
        r.raise_for_status()
        page = r.json()
        objects.extend(page["objects"])
        params = None
        url = page["meta"]["next"] and "https://%s%s" % (HOST, page["meta"]["next"])
    return objects


r = requests.post(BASE + "fortitokenmobilelicenses/", auth=AUTH, headers=HEADERS,
                  data=json.dumps({"license": "5050-5050-5050-5050-5050"}))
check("license import", r.status_code == 201, r.text)
check("import message", r.json()["messages"]["success"] == "Successfully imported 50 FortiTokens", r.text)

r = requests.get(BASE + "fortitokenmobilelicenses/", auth=AUTH, headers=HEADERS)
check("license counts", r.json() == {"available_ftm": 50, "total_ftm": 50, "used_ftm": 0}, r.text)

tokens = get_all("fortitokens/", {"status": "available", "format": "json"})
check("all tokens through meta.next", len(tokens) == 50, len(tokens))
check("resource_uri", tokens[0]["resource_uri"] == "/api/v1/fortitokens/1/", tokens[0])

r = requests.get(BASE + "fortitokens/", auth=("admin", "the-login-password"), headers=HEADERS)
check("the login password is refused", r.status_code == 401, r.status_code)

r = requests.post(BASE + "localusers/", auth=AUTH, headers=HEADERS,
                  data=json.dumps({"username": "jdoe", "first_name": "John", "last_name": "Doe",
                                   "email": "jdoe@example.test", "mobile_number": "+46-701234567"}))
check("user created: 207", r.status_code == 207, r.text)
created = r.json()[0]
check("statue", created.get("statue") == 201, created)

r = requests.post(BASE + "localusers/", auth=AUTH, headers=HEADERS,
                  data=json.dumps({"username": "bad", "mobile_number": "070-1234567"}))
check("malformed mobile_number", r.status_code == 400 and "error" in r.json(), r.text)

users = get_all("localusers/", {"username__exact": "jdoe"})
check("filter by username", len(users) == 1 and users[0]["id"] == created["id"], users)

serial = tokens[0]["serial"]
r = requests.patch(BASE + "localusers/%d/" % created["id"], auth=AUTH, headers=HEADERS,
                   data=json.dumps({"token_auth": True, "token_type": "ftm", "token_serial": serial,
                                    "ftm_act_method": "email"}))
check("token assigned", r.status_code in (200, 202) and r.json()["token_serial"] == serial, r.text)

r = requests.get(BASE + "fortitokens/", auth=AUTH, headers=HEADERS, params={"serial__iexact": serial.lower()})
check("the token is pending", r.json()["objects"][0]["status"] == "pending", r.text)

r = requests.post(BASE + "localusers/", auth=AUTH, headers=HEADERS, data=json.dumps({"username": "other"}))
other = r.json()[0]
r = requests.patch(BASE + "localusers/%d/" % other["id"], auth=AUTH, headers=HEADERS,
                   data=json.dumps({"token_auth": True, "token_type": "ftm", "token_serial": serial}))
check("someone else's token", r.status_code == 400
      and r.json() == {"error": "This serial number is not available for use."}, r.text)

r = requests.get(BASE + "userfortitokenpolicy/", auth=AUTH, headers=HEADERS)
policy = r.json()
check("token policy defaults", (policy["totp_window"], policy["hotp_window"], policy["totp_sync_window"],
                                policy["hotp_sync_window"]) == (1, 3, 60, 100), policy)

r = requests.post(BASE + "pushpoll/", auth=AUTH, headers=HEADERS, data="{}")
check("pushpoll refuses an admin key", r.status_code == 403, r.status_code)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
