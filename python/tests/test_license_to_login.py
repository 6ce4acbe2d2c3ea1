"""The pytest quick start's suite: only the plugin's fixtures and ``requests``. A token from license
import to login, the same through the flow helpers and by push, an armed error 16, a unit pointed back at
the suite, and the control plane (journal, clock, state, reset between tests); and that installing the
package put ``fortimock`` on PATH."""

import shutil
import subprocess
import sysconfig

import pytest
import requests

from fortimock import FIVE_SEAT_CODE, OperationFailed, flows


def test_import_provision_activate_poll_login(fortimock_lab):
    lab = fortimock_lab
    # A virtual FortiGate imports the default lab's 5-seat license (`execute fortitoken-mobile import`).
    fortigate = lab.appliances.create()
    serial = fortigate["serial"]
    imported = lab.appliances.import_license(serial, FIVE_SEAT_CODE)
    assert len(imported["tokens"]) == 5
    # The admin assigns a token to alice; her phone downloads the seed (once); the appliance polls.
    provisioned = lab.appliances.provision(serial, "alice")
    token = provisioned["token"]["serial"]
    phone = lab.phones.create(platform="android")["id"]
    lab.phones.activate(phone, provisioned["token"]["activation_code"])
    polled = lab.appliances.poll(serial)
    assert [t["status"] for t in polled["tokens"] if t["serial"] == token] == ["assigned"]
    # alice logs in with the code her phone shows; the same code again is a replay.
    code = lab.phones.otp(phone, token)["otp"]
    assert lab.appliances.login(serial, "alice", code)["result"] == "success"
    assert lab.appliances.login(serial, "alice", code)["result"] == "replayed"


def test_the_flow_helpers_do_it_in_one_call(fortimock_lab):
    alice = flows.ready_user(fortimock_lab, "alice")
    assert flows.login_with_otp(fortimock_lab, alice)["result"] == "success"


def test_a_push_approved_on_the_phone_logs_the_user_in(fortimock_lab):
    bob = flows.ready_user(fortimock_lab, "bob", push=True)
    outcome = flows.login_with_push(fortimock_lab, bob, "approve")
    assert outcome["result"] == "success", outcome
    push = fortimock_lab.phones.inbox(bob.phone)[-1]
    assert (push["user"], push["appliance"]) == ("bob", bob.serial)


def test_armed_error_16_fails_the_import_as_fortios_reports_it(fortimock_lab):
    forticare = fortimock_lab.control("forticare")
    forticare.arm_error("forticare.import.code-invalid", times=1)
    serial = fortimock_lab.appliances.create()["serial"]
    try:
        fortimock_lab.appliances.import_license(serial, FIVE_SEAT_CODE)
    except OperationFailed as failure:
        assert failure.error_code == 16
        assert failure.error_id == "forticare.import.code-invalid"
    else:
        raise AssertionError("the armed scenario did not fire")
    # Spent after one request: the next import goes through.
    assert fortimock_lab.appliances.import_license(serial, FIVE_SEAT_CODE)["tokens"]
    entries = forticare.journal(message_type="SoftToken.ActivationLicenseRequest")
    assert len(entries) == 2


def test_a_unit_pointed_elsewhere_is_put_back_on_the_suite(fortimock_lab):
    unit = fortimock_lab.appliances.create(ftm_url="https://127.0.0.1:1")
    assert "ftm_url" not in unit["follows_suite"]
    with pytest.raises(OperationFailed) as refused:
        fortimock_lab.appliances.import_license(unit["serial"], FIVE_SEAT_CODE)
    assert refused.value.error_id == "appliance.cloud.unreachable"
    back = fortimock_lab.appliances.change(unit["serial"], follow_suite=["ftm_url"])
    assert "ftm_url" in back["follows_suite"] and back["ftm_url"] != unit["ftm_url"]
    assert fortimock_lab.appliances.import_license(unit["serial"], FIVE_SEAT_CODE)["tokens"]


def test_the_wire_with_requests_and_the_lab_ca(fortimock_lab):
    # What an appliance under test sends, straight to forticare over HTTPS trusting only the lab CA.
    body = {"d": {"__type": "SoftToken.ActivationLicenseRequest", "__version": "4",
                  "serial_number": "FGVM01TM00000001", "__device_version": "7.4", "__device_build": "2829",
                  "__clustered_sns": [{"sn": "FGVM01TM00000001"}],
                  "license_activation_code": " BADLICBADLICXXX "}}
    response = requests.post(fortimock_lab.url("forticare", "/SoftToken/Provisioning.asmx/Process"),
                             json=body, verify=fortimock_lab.verify, timeout=10)
    assert response.status_code == 200
    answer = response.json()["d"]
    assert answer["error"] == {"error_code": 16, "error_message": "forticare license activation code invalid"}


def test_reset_between_tests_and_the_clock(fortimock_lab):
    # The earlier tests' appliances are gone: fortimock_lab resets before each test.
    assert fortimock_lab.appliances.list() == []
    forticare = fortimock_lab.control("forticare")
    before = forticare.clock()
    after = forticare.advance_clock(86400)
    assert after["offset_secs"] - before.get("offset_secs", 0) >= 86400
    assert "forticare" in fortimock_lab.state()


def test_the_package_puts_fortimock_on_path(request):
    if request.config.getoption("fortimock_bin"):
        pytest.skip("--fortimock-bin chose another binary")
    binary = shutil.which("fortimock", path=sysconfig.get_path("scripts"))
    assert binary, "no fortimock in " + sysconfig.get_path("scripts")
    version = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("fortimock ")
