"""The plugin itself and the client's less travelled calls: every listener on a free port (two labs at
once), the admin token sent when the lab has one, each option (plain HTTP, a kept data dir, a fixtures file,
a config file) in an inner pytest session, and licenses, scenarios, the clock, state import and the CA."""

import json
import re
import subprocess
import textwrap

import pytest
import requests

from fortimock import FIVE_SEAT_CODE, FortimockError, find_binary, start
from fortimock.plugin import PORT_FLAGS


@pytest.fixture
def binary(request):
    return find_binary(request.config.getoption("fortimock_bin"))


def _unguarded_status(lab, service, path):
    """The status ``path`` answers a request carrying no admin token."""
    return requests.get(lab.url(service, path), verify=lab.verify, timeout=10).status_code


def test_every_listener_with_a_fixed_default_port_is_started_on_a_free_one(binary):
    usage = subprocess.run([binary, "up", "--help"], capture_output=True, text=True, check=True).stdout
    flags = set(re.findall(r"(--[a-z-]+-port)\b", usage)) - {"--dns-port"}
    assert flags == set(PORT_FLAGS)


def test_two_labs_run_at_once_beside_the_sessions(binary, fortimock):
    first = start(binary)
    try:
        second = start(binary)
        try:
            assert set(first.urls.values()).isdisjoint(second.urls.values())
            assert set(second.urls.values()).isdisjoint(fortimock.urls.values())
            for lab in (first, second, fortimock):
                assert lab.licenses.get("EFTM000000000005")["code"] == FIVE_SEAT_CODE
        finally:
            second.stop()
    finally:
        first.stop()


def test_the_admin_token_of_the_config_file_is_sent(binary, tmp_path):
    config = tmp_path / "fortimock.toml"
    config.write_text('admin-token = "s3cret-lab-token"\n')
    lab = start(binary, config=str(config))
    try:
        assert lab.admin_token == "s3cret-lab-token"
        assert _unguarded_status(lab, "forticare", "/__admin/licenses") == 401
        created = lab.licenses.create(3)
        assert lab.licenses.get(created["id"])["seats"] == 3
        lab.reset()
        assert lab.appliances.list() == []
    finally:
        lab.stop()


def test_the_token_generated_for_a_non_loopback_bind_is_sent(binary, tmp_path):
    config = tmp_path / "fortimock.toml"
    config.write_text('bind = "0.0.0.0"\n')
    lab = start(binary, config=str(config), data_dir=str(tmp_path / "lab"))
    try:
        generated = (tmp_path / "lab" / "data" / "admin-token").read_text().strip()
        assert lab.admin_token == generated
        assert _unguarded_status(lab, "appliance", "/appliances") == 401
        assert lab.appliances.create()["serial"]
        lab.reset()
        assert lab.appliances.list() == []
    finally:
        lab.stop()


def test_a_license_created_through_the_client(fortimock_lab):
    created = fortimock_lab.licenses.create(7, note="from the Python client")
    assert created["seats"] == 7
    assert fortimock_lab.licenses.get(created["id"])["note"] == "from the Python client"
    before = fortimock_lab.licenses.list()
    with pytest.raises(FortimockError) as refused:
        fortimock_lab.licenses.create(0)
    assert refused.value.status == 400
    assert fortimock_lab.licenses.list() == before


def test_clear_scenarios_disarms_every_one(fortimock_lab):
    forticare = fortimock_lab.control("forticare")
    forticare.arm_error("forticare.import.code-invalid")
    forticare.arm_error("forticare.import.code-invalid", times=2)
    assert len(forticare.scenarios()) == 2
    forticare.clear_scenarios()
    assert forticare.scenarios() == []
    serial = fortimock_lab.appliances.create()["serial"]
    assert fortimock_lab.appliances.import_license(serial, FIVE_SEAT_CODE)["tokens"]


def test_a_frozen_clock_stands_still_until_set_running(fortimock_lab):
    control = fortimock_lab.control("ftm")
    frozen = control.freeze_clock()
    assert frozen["frozen"] is True
    assert control.clock()["now"] == frozen["now"]
    moved = control.change_clock(advance_secs=3600)
    assert moved["frozen"] is True
    assert moved["now"] - frozen["now"] == 3600
    running = control.change_clock(real=True)
    assert running["frozen"] is False
    assert running["offset_secs"] == 0


def test_state_exported_and_imported_back(fortimock_lab):
    forticare = fortimock_lab.control("forticare")
    created = fortimock_lab.licenses.create(2)
    exported = forticare.state()
    fortimock_lab.reset()
    with pytest.raises(FortimockError):
        fortimock_lab.licenses.get(created["id"])
    forticare.import_state(exported)
    assert fortimock_lab.licenses.get(created["id"])["seats"] == 2
    # A bad state is refused whole: nothing changes.
    with pytest.raises(FortimockError) as refused:
        forticare.import_state({"not": "a state"})
    assert refused.value.status == 400
    # Everything but the time of the export is as it was (a second may pass between the two exports).
    again = forticare.state()
    assert again["exported"] >= exported["exported"]
    unchanged = {key: value for key, value in again.items() if key != "exported"}
    assert unchanged == {key: value for key, value in exported.items() if key != "exported"}


def test_ca_path_is_the_lab_ca_requests_trusts(fortimock_lab):
    assert fortimock_lab.ca_path is not None
    with open(fortimock_lab.ca_path) as pem:
        assert pem.read().startswith("-----BEGIN CERTIFICATE-----")
    url = fortimock_lab.url("forticare", "/__admin/health")
    assert requests.get(url, verify=fortimock_lab.ca_path, timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=True, timeout=10)


# ---- the plugin's options, each in an inner pytest session ----------------------------------------------

@pytest.fixture
def inner(pytester, request):
    """Runs an inner pytest session (a subprocess) on ``source`` with ``options``; the plugin comes from the
    installed package's entry point, or from ``-p`` when this session loaded it that way."""

    def run(source, *options):
        pytester.makepyfile(test_inner=textwrap.dedent(source))
        args = list(options)
        if request.config.pluginmanager.get_plugin("fortimock") is None:
            args += ["-p", "fortimock.plugin"]
        explicit = request.config.getoption("fortimock_bin")
        if explicit:
            args.append(f"--fortimock-bin={explicit}")
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)
        assert result.ret == 0, result.stdout.str() + result.stderr.str()
        return result

    return run


def test_option_plain_http(inner):
    inner(
        """
        import requests

        def test_plain(fortimock_lab):
            assert all(fortimock_lab.urls[s].startswith("http://") for s in fortimock_lab.services)
            assert fortimock_lab.ca_path is None
            assert fortimock_lab.verify is True
            assert requests.get(fortimock_lab.url("ftm", "/__admin/health"), timeout=10).status_code == 200
            assert fortimock_lab.licenses.list()
        """,
        "--fortimock-plain-http",
    )


def test_option_plain_http_as_an_ini_key(inner, pytester):
    pytester.makeini("[pytest]\nfortimock_plain_http = true\n")
    inner(
        """
        def test_plain(fortimock):
            assert fortimock.urls["forticare"].startswith("http://")
        """
    )


def test_option_data_dir_is_kept(inner, tmp_path):
    kept = tmp_path / "kept"
    inner(
        """
        def test_data_dir(fortimock_lab):
            fortimock_lab.licenses.create(4, note="kept")
            assert fortimock_lab.log_path.is_file()
        """,
        "--fortimock-data-dir",
        str(kept),
    )
    assert (kept / "fortimock.log").is_file()
    assert (kept / "data" / "tls" / "ca.pem").is_file()
    assert json.loads((kept / "ready.json").read_text())["forticare"].startswith("https://")


def test_option_fixtures(inner, tmp_path):
    fixtures = tmp_path / "fixtures.json"
    fixtures.write_text(json.dumps({"licenses": [
        {"id": "EFTM000000000777", "code": "7777-7777-7777-7777-7777", "seats": 7, "shipped": "2024-03-01"},
    ]}))
    inner(
        """
        def test_fixtures(fortimock_lab):
            assert [lic["id"] for lic in fortimock_lab.licenses.list()] == ["EFTM000000000777"]
        """,
        "--fortimock-fixtures",
        str(fixtures),
    )


def test_option_config(inner, tmp_path):
    config = tmp_path / "fortimock.toml"
    config.write_text('admin-token = "from-the-config-file"\nno-fixtures = true\n')
    inner(
        """
        def test_config(fortimock_lab):
            assert fortimock_lab.admin_token == "from-the-config-file"
            assert fortimock_lab.licenses.list() == []
        """,
        "--fortimock-config",
        str(config),
    )
