//! FortiCare's asset-management API (v3) the way a customer's script uses it, over HTTPS: a token, an EFTM
//! code registered to a serial, the lists, an import from that serial (and the refusal from another), a
//! product transfer between accounts, the 400 and 401 shapes, the rate limits when on (and as scenarios),
//! the lab certificate under the real host names, the journal keeping tokens out, and bad input changing
//! nothing. `python_client` runs the Python client written from the documented shapes against it.

use e2e::forticare_api::{API_PASSWORD, API_USER};
use e2e::{TestSuite, default_lab, test_options};
use fortimock::suite::ForticareOptions;
use protocol::catalogue::TOKEN_NOT_OWNED;
use protocol::paths;
use reqwest::StatusCode;
use serde_json::{Value, json};

const SERIAL: &str = "FGVM01TM00000042";

/// What the account looks like through the API: its licenses and products.
async fn account(suite: &TestSuite, token: &str) -> (Value, Value) {
    let (status, licenses) = suite.v3(paths::V3_LICENSES_LIST, token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{licenses}");
    let (status, products) = suite.v3(paths::V3_PRODUCTS_LIST, token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{products}");
    (licenses["licenses"].clone(), products["assets"].clone())
}

fn assert_envelope(answer: &Value, status: i64) {
    assert_eq!(answer["build"], "1.0.0", "{answer}");
    assert_eq!(answer["version"], "3.0", "{answer}");
    assert_eq!(answer["status"], status, "{answer}");
    assert!(answer.get("token").is_some() && answer.get("message").is_some());
}

#[tokio::test]
async fn a_customers_script_registers_an_eftm_code_and_the_soft_token_service_agrees() {
    let suite = TestSuite::start().await;
    let token = suite.v3_login(API_USER, API_PASSWORD).await;
    // The fixture license registered to FGT60FTK20000099 is the lab account's already.
    let (licenses, products) = account(&suite, &token).await;
    assert_eq!(licenses.as_array().unwrap().len(), 1, "{licenses}");
    assert_eq!(products[0]["serialNumber"], "FGT60FTK20000099");

    let (status, registered) = suite
        .v3(
            paths::V3_LICENSES_REGISTER,
            &token,
            json!({"licenseRegistrationCode": "5050-5050-5050-5050-5050", "serialNumber": SERIAL, "description": "lab"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{registered}");
    assert_envelope(&registered, 0);
    assert_eq!(registered["token"], token.as_str(), "the token is echoed");
    let details = &registered["assetDetails"];
    assert_eq!(details["serialNumber"], SERIAL);
    assert_eq!(
        details["license"],
        json!({"licenseNumber": "EFTM000000000050", "licenseSKU": "FTM-ELIC-50", "serialNumber": SERIAL, "status": "Registered"})
    );
    assert_eq!(details["entitlements"][0]["typeDesc"], "FortiToken Mobile");

    let (licenses, products) = account(&suite, &token).await;
    assert_eq!(licenses.as_array().unwrap().len(), 2);
    assert!(
        products
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["serialNumber"] == SERIAL)
    );
    let (status, filtered) = suite
        .v3(
            paths::V3_LICENSES_LIST,
            &token,
            json!({"licenseSKU": "FTM-ELIC-50", "status": "Registered"}),
        )
        .await;
    assert_eq!(
        (status, filtered["licenses"].as_array().unwrap().len()),
        (StatusCode::OK, 1)
    );
    let (_, none) = suite
        .v3(
            paths::V3_LICENSES_LIST,
            &token,
            json!({"status": "Pending"}),
        )
        .await;
    assert_eq!(none["licenses"], json!([]));
    let (status, file) = suite
        .v3(
            paths::V3_LICENSES_DOWNLOAD,
            &token,
            json!({"serialNumber": SERIAL}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{file}");
    assert!(
        file["licenseFile"]
            .as_str()
            .unwrap()
            .contains("EFTM000000000050 FTM-ELIC-50")
    );

    // One ledger: the serial owns the license for imports; another appliance is refused.
    let granted = suite
        .import("ftm", SERIAL, &[], "5050-5050-5050-5050-5050")
        .await;
    assert_eq!(
        (granted.error, granted.license.as_str()),
        (None, "EFTM000000000050")
    );
    let refused = suite
        .import("ftm", "FGVM01TM00000043", &[], "5050-5050-5050-5050-5050")
        .await;
    assert_eq!(refused.error.unwrap().error_code, 18);

    // An import shows up in both lists: the appliance as a product with its FortiToken Mobile entitlement.
    suite
        .import("ftm", "FGVM01TM00000044", &[], "1111-2222-3333-4444-5555")
        .await;
    let (licenses, products) = account(&suite, &token).await;
    assert!(licenses.as_array().unwrap().iter().any(
        |l| l["licenseNumber"] == "EFTM000000000005" && l["serialNumber"] == "FGVM01TM00000044"
    ));
    let (status, details) = suite
        .v3(
            paths::V3_PRODUCTS_DETAILS,
            &token,
            json!({"serialNumber": "FGVM01TM00000044"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{details}");
    assert_eq!(
        details["assetDetails"]["licenses"][0]["licenseSKU"],
        "FTM-ELIC-5"
    );
    assert_eq!(products.as_array().unwrap().len(), 3);

    // A transfer ticket moves it in both views.
    let (status, _) = suite
        .transfer(json!({"license": "EFTM000000000005", "from": "FGVM01TM00000044", "to": "FGVM01TM00000045"}))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (licenses, products) = account(&suite, &token).await;
    assert!(licenses.as_array().unwrap().iter().any(
        |l| l["licenseNumber"] == "EFTM000000000005" && l["serialNumber"] == "FGVM01TM00000045"
    ));
    let old = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["serialNumber"] == "FGVM01TM00000044")
        .unwrap();
    assert_eq!(old["entitlements"], json!([]));
    let new = products
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["serialNumber"] == "FGVM01TM00000045")
        .unwrap();
    assert_eq!(new["licenses"][0]["licenseNumber"], "EFTM000000000005");

    // Registered to the account only, a license is Pending until a product imports it.
    let (status, pending) = suite
        .v3(
            paths::V3_LICENSES_REGISTER,
            &token,
            json!({"licenseRegistrationCode": "B0B0-B0B0-B0B0-B0B0-B0B1"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an unknown code: {pending}"
    );
    assert_eq!(pending["error"]["errorCode"], 201);
    let (status, created) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_LICENSES,
            &json!({"seats": 3, "code": "3333-0000-0000-0000-0003"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let (status, pending) = suite
        .v3(
            paths::V3_LICENSES_REGISTER,
            &token,
            json!({"licenseRegistrationCode": "3333-0000-0000-0000-0003"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pending}");
    assert_eq!(pending["assetDetails"]["license"]["status"], "Pending");
    let (_, listed) = suite
        .v3(
            paths::V3_LICENSES_LIST,
            &token,
            json!({"status": "Pending"}),
        )
        .await;
    assert_eq!(listed["licenses"].as_array().unwrap().len(), 1);
    suite
        .import("ftm", "FGVM01TM00000046", &[], "3333-0000-0000-0000-0003")
        .await;
    let (_, listed) = suite
        .v3(
            paths::V3_LICENSES_LIST,
            &token,
            json!({"status": "Pending"}),
        )
        .await;
    assert_eq!(listed["licenses"], json!([]));
}

#[tokio::test]
async fn products_register_and_move_between_accounts_of_one_organization() {
    let suite = TestSuite::start().await;
    let (status, user) = suite
        .create_api_user(json!({"username": "org-admin", "password": "s3cret-pass", "account_id": 2001, "organization_accounts": [2002]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    assert!(user.get("password").is_none());
    let token = suite.v3_login("org-admin", "s3cret-pass").await;
    let units = json!({"registrationUnits": [
        {"serialNumber": "FGT60FTK20000001", "cloudKey": "ABC12345", "description": "branch 1"},
        {"serialNumber": "FGT60FTK20000002", "cloudKey": "ABC12346"},
    ]});
    let (status, answer) = suite
        .v3(paths::V3_PRODUCTS_REGISTER, &token, units.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["assets"][0]["status"], 0);

    // Registering again without a contract, or without a cloud key: 301 with each unit's message.
    let (status, again) = suite
        .v3(
            paths::V3_PRODUCTS_REGISTER,
            &token,
            json!({"registrationUnits": [
                {"serialNumber": "FGT60FTK20000001", "cloudKey": "ABC12345"},
                {"serialNumber": "FGT60FTK20000003"},
                {"serialNumber": "FGT60FTK20000004", "cloudKey": "ABC12347"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{again}");
    assert_envelope(&again, 2);
    assert_eq!(
        (
            again["message"].as_str(),
            again["error"]["errorCode"].as_i64()
        ),
        (Some("Failed"), Some(301))
    );
    assert_eq!(
        again["assets"][0]["message"],
        "Product-> Product already registered, but no contract associated with request. Please check again."
    );
    assert_eq!(
        again["assets"][1]["message"],
        "Product-> FortiCloud Key is Required."
    );
    assert_eq!(again["assets"][2]["status"], 0);

    let (_, listed) = suite
        .v3(
            paths::V3_PRODUCTS_LIST,
            &token,
            json!({"serialNumber": "FGT60FTK%"}),
        )
        .await;
    assert_eq!(listed["assets"].as_array().unwrap().len(), 3);
    assert_eq!(
        (listed["pageNumber"].as_i64(), listed["totalPages"].as_i64()),
        (Some(1), Some(1))
    );
    let (_, prefix) = suite
        .v3(
            paths::V3_PRODUCTS_LIST,
            &token,
            json!({"serialNumber": "FGT60FTK20000002"}),
        )
        .await;
    assert_eq!(prefix["assets"].as_array().unwrap().len(), 1);
    let (_, expiring) = suite
        .v3(
            paths::V3_PRODUCTS_LIST,
            &token,
            json!({"expireBefore": "2040-01-01T00:00:00+0:00"}),
        )
        .await;
    assert_eq!(expiring["assets"], json!([]));

    let (status, moved) = suite
        .v3(
            paths::V3_PRODUCTS_TRANSFER,
            &token,
            json!({"sourceAccountId": 2001, "targetAccountId": 2002, "serialNumbers": ["FGT60FTK20000001", "FGT60FTK20000002"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let (_, there) = suite
        .v3(paths::V3_PRODUCTS_LIST, &token, json!({"accountId": 2002}))
        .await;
    assert_eq!(there["assets"].as_array().unwrap().len(), 2);
    let (_, here) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
    assert_eq!(here["assets"].as_array().unwrap().len(), 1);

    // Accounts outside the organization are refused, and nothing moves.
    let before = (there.clone(), here.clone());
    for body in [
        json!({"sourceAccountId": 2002, "targetAccountId": 3003, "serialNumbers": ["FGT60FTK20000001"]}),
        json!({"sourceAccountId": 3003, "targetAccountId": 2001, "serialNumbers": ["FGT60FTK20000001"]}),
    ] {
        let (status, refused) = suite.v3(paths::V3_PRODUCTS_TRANSFER, &token, body).await;
        assert_eq!(
            (status, refused["error"]["errorCode"].as_i64()),
            (StatusCode::BAD_REQUEST, Some(206))
        );
    }
    let (status, refused) = suite
        .v3(paths::V3_PRODUCTS_LIST, &token, json!({"accountId": 3003}))
        .await;
    assert_eq!(
        (status, refused["error"]["errorCode"].as_i64()),
        (StatusCode::BAD_REQUEST, Some(206))
    );
    let (_, there) = suite
        .v3(paths::V3_PRODUCTS_LIST, &token, json!({"accountId": 2002}))
        .await;
    let (_, here) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
    assert_eq!((there, here), before);
}

/// `products/list`'s `expireBefore` matches a product with an entitlement ending before the date: a support
/// contract registered with `contractNumber` ends a term after its registration; a FortiToken Mobile license
/// never ends.
#[tokio::test]
async fn expire_before_lists_the_products_whose_contract_ends_before_the_date() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let token = suite.v3_login(API_USER, API_PASSWORD).await;
    let now = suite
        .admin_get::<protocol::admin::ClockView>("forticare", paths::ADMIN_CLOCK)
        .await
        .now;
    let (status, answer) = suite
        .v3(
            paths::V3_PRODUCTS_REGISTER,
            &token,
            json!({"registrationUnits": [
                {"serialNumber": "FGT60FTK20000001", "cloudKey": "ABC12345", "contractNumber": "FC-LAB-0001"},
                {"serialNumber": "FGT60FTK20000002", "cloudKey": "ABC12346"},
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let ends = now.plus_secs(protocol::modeled::V3_CONTRACT_TERM_DAYS * 86_400);
    let end_date = protocol::forticare_v3::date_time(ends);
    let contracted = &answer["assets"][0]["asset"];
    assert_eq!(contracted["contracts"][0]["contractNumber"], "FC-LAB-0001");
    assert_eq!(
        contracted["contracts"][0]["terms"][0]["endDate"],
        end_date.as_str()
    );
    assert_eq!(contracted["entitlements"][0]["endDate"], end_date.as_str());

    let listed = |expire_before: String| {
        let suite = &suite;
        let token = token.clone();
        async move {
            let (status, answer) = suite
                .v3(
                    paths::V3_PRODUCTS_LIST,
                    &token,
                    json!({"expireBefore": expire_before}),
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{answer}");
            answer["assets"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["serialNumber"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    // The day after the term ends: the contracted product, not the one without a contract, nor the one
    // with only a FortiToken Mobile license (FGT60FTK20000099, the lab's).
    let day_after = ends.plus_secs(86_400).date();
    assert_eq!(
        listed(format!("{day_after}T00:00:00+0:00")).await,
        ["FGT60FTK20000001"]
    );
    assert_eq!(
        listed("2040-01-01T00:00:00+0:00".to_owned()).await,
        ["FGT60FTK20000001"]
    );
    // On the day it ends, and today: nothing ends before.
    assert_eq!(listed(ends.date().to_string()).await, Vec::<String>::new());
    assert_eq!(listed(now.date().to_string()).await, Vec::<String>::new());

    // Registering the product again with a second contract adds it; the first stays.
    let (status, again) = suite
        .v3(
            paths::V3_PRODUCTS_REGISTER,
            &token,
            json!({"registrationUnits": [{"serialNumber": "FGT60FTK20000002", "cloudKey": "ABC12346", "contractNumber": "FC-LAB-0002"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(
        listed("2040-01-01".to_owned()).await,
        ["FGT60FTK20000001", "FGT60FTK20000002"]
    );
    let (_, details) = suite
        .v3(
            paths::V3_PRODUCTS_DETAILS,
            &token,
            json!({"serialNumber": "FGT60FTK20000001"}),
        )
        .await;
    assert_eq!(
        details["assetDetails"]["contracts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn bad_requests_get_the_v3_shapes_and_change_nothing() {
    let suite = TestSuite::start().await;
    suite.freeze_clock().await;
    let token = suite.v3_login(API_USER, API_PASSWORD).await;
    suite
        .import("ftm", "FGVM01TM00000044", &[], "1111-2222-3333-4444-5555")
        .await;
    let before = (account(&suite, &token).await, suite.licenses().await);

    // 401: no token, an unknown one.
    for bearer in ["", "not-a-token"] {
        let (status, answer) = suite.v3(paths::V3_LICENSES_LIST, bearer, json!({})).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert_envelope(&answer, -1);
        assert_eq!(answer["error"]["errorCode"], 401);
    }
    // 400: the body, each field, each limit.
    let cases = [
        (paths::V3_LICENSES_REGISTER, json!({}), 100),
        (
            paths::V3_LICENSES_REGISTER,
            json!({"licenseRegistrationCode": 5050}),
            100,
        ),
        (
            paths::V3_LICENSES_REGISTER,
            json!({"licenseRegistrationCode": "nonsense"}),
            201,
        ),
        (
            paths::V3_LICENSES_REGISTER,
            json!({"licenseRegistrationCode": "5050-5050-5050-5050-5050", "serialNumber": "bad serial!"}),
            100,
        ),
        (
            paths::V3_LICENSES_REGISTER,
            json!({"licenseRegistrationCode": "1111-2222-3333-4444-5555", "serialNumber": "FGVM01TM00000099"}),
            202,
        ),
        (
            paths::V3_LICENSES_REGISTER,
            json!({"licenseRegistrationCode": "DEAD-0000-0000-0000-2020", "serialNumber": "FGVM01TM00000099"}),
            203,
        ),
        (
            paths::V3_LICENSES_REGISTER,
            json!({"licenseRegistrationCode": "5050-5050-5050-5050-5050", "accountId": 7}),
            206,
        ),
        (paths::V3_LICENSES_LIST, json!({"status": "Lost"}), 100),
        (paths::V3_LICENSES_LIST, json!([1]), 100),
        (paths::V3_LICENSES_DOWNLOAD, json!({}), 100),
        (
            paths::V3_LICENSES_DOWNLOAD,
            json!({"serialNumber": "FGVM01TM00000099"}),
            205,
        ),
        (paths::V3_PRODUCTS_LIST, json!({"pageNumber": 0}), 100),
        (paths::V3_PRODUCTS_LIST, json!({"pageNumber": "one"}), 100),
        (
            paths::V3_PRODUCTS_LIST,
            json!({"expireBefore": "soon"}),
            100,
        ),
        (
            paths::V3_PRODUCTS_DETAILS,
            json!({"serialNumber": "FGVM01TM00000099"}),
            205,
        ),
        (
            paths::V3_PRODUCTS_REGISTER,
            json!({"registrationUnits": []}),
            100,
        ),
        (
            paths::V3_PRODUCTS_REGISTER,
            json!({"registrationUnits": [{"cloudKey": "ABC12345"}]}),
            100,
        ),
        (
            paths::V3_PRODUCTS_REGISTER,
            json!({"registrationUnits": [{"serialNumber": "FGT60FTK20000001", "cloudKey": "x"}]}),
            102,
        ),
        (
            paths::V3_PRODUCTS_REGISTER,
            json!({"registrationUnits": (0..11).map(|i| json!({"serialNumber": format!("FGT60FTK200000{i:02}"), "cloudKey": "ABC12345"})).collect::<Vec<_>>()}),
            104,
        ),
        (
            paths::V3_PRODUCTS_TRANSFER,
            json!({"sourceAccountId": 1000000}),
            100,
        ),
        (
            paths::V3_PRODUCTS_TRANSFER,
            json!({"sourceAccountId": 1000000, "targetAccountId": 1000000, "serialNumbers": ["FGVM01TM00000044"]}),
            100,
        ),
        (
            paths::V3_PRODUCTS_TRANSFER,
            json!({"sourceAccountId": 1000000, "targetAccountId": 5, "serialNumbers": ["FGVM01TM00000044"]}),
            206,
        ),
        (
            paths::V3_PRODUCTS_TRANSFER,
            json!({"sourceAccountId": 1000000, "targetAccountId": 1000001, "serialNumbers": (0..11).map(|i| format!("FGT60FTK200000{i:02}")).collect::<Vec<_>>()}),
            104,
        ),
    ];
    for (path, body, code) in cases {
        let (status, answer) = suite.v3(path, &token, body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
        assert_envelope(&answer, -1);
        assert_eq!(answer["message"], "Invalid incoming request.");
        assert_eq!(
            answer["error"]["errorCode"], code,
            "{path} {body}: {answer}"
        );
        assert!(!answer["error"]["message"].as_str().unwrap().is_empty());
        assert_eq!(
            (account(&suite, &token).await, suite.licenses().await),
            before,
            "{path} {body}"
        );
    }
    let (_, captured) = suite
        .v3(
            paths::V3_PRODUCTS_REGISTER,
            &token,
            json!({"registrationUnits": [{"serialNumber": "FGT60FTK20000001", "cloudKey": "x"}]}),
        )
        .await;
    assert_eq!(
        captured["error"]["message"],
        "Invalid cloud key provided for registration units[0]. "
    );
    let response = suite
        .client
        .post(format!(
            "{}{}",
            suite.url("forticare"),
            paths::V3_LICENSES_LIST
        ))
        .bearer_auth(&token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);

    // The token endpoint: wrong password, wrong client, wrong grant, no trailing slash.
    for (body, status, error) in [
        (
            json!({"username": API_USER, "password": "wrong", "client_id": "assetmanagement", "grant_type": "password"}),
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        ),
        (
            json!({"username": "nobody", "password": "wrong", "client_id": "assetmanagement", "grant_type": "password"}),
            StatusCode::UNAUTHORIZED,
            "invalid_grant",
        ),
        (
            json!({"username": API_USER, "password": API_PASSWORD, "client_id": "other", "grant_type": "password"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"username": API_USER, "password": API_PASSWORD, "client_id": "assetmanagement", "grant_type": "implicit"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            json!({"username": API_USER, "client_id": "assetmanagement", "grant_type": "password"}),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
    ] {
        let (got, answer) = suite.v3_token_request(body.clone()).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(error)),
            "{body}: {answer}"
        );
    }
    let response = suite
        .client
        .post(format!("{}/api/v1/oauth/token", suite.url("forticare")))
        .json(&json!({"username": API_USER, "password": API_PASSWORD, "client_id": "assetmanagement", "grant_type": "password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "the trailing slash is part of the path"
    );

    // Tokens expire after 14400 s on the lab clock; a refresh token gets a new one.
    let (_, issued) = suite
        .v3_token_request(json!({"username": API_USER, "password": API_PASSWORD, "client_id": "assetmanagement", "grant_type": "password"}))
        .await;
    assert_eq!(
        (issued["expires_in"].as_i64(), issued["token_type"].as_str()),
        (Some(14400), Some("Bearer"))
    );
    suite.advance_clock(14_400).await;
    let (status, _) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, refreshed) = suite
        .v3_token_request(json!({"grant_type": "refresh_token", "refresh_token": issued["refresh_token"], "client_id": "assetmanagement"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let (status, _) = suite
        .v3(
            paths::V3_LICENSES_LIST,
            refreshed["access_token"].as_str().unwrap(),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(suite.licenses().await, before.1);

    // Admin API users: bad input is refused and creates nobody.
    let users: Value = suite.admin_get("forticare", paths::ADMIN_API_USERS).await;
    for body in [
        json!({"username": "", "password": "x"}),
        json!({"username": "a b", "password": "x"}),
        json!({"username": "ok", "password": ""}),
        json!({"username": "ok", "password": "x", "extra": 1}),
        json!({"username": API_USER, "password": "another"}),
    ] {
        let (status, answer) = suite.create_api_user(body.clone()).await;
        assert!(status.is_client_error(), "{body}: {status} {answer}");
    }
    assert_eq!(
        suite
            .admin_get::<Value>("forticare", paths::ADMIN_API_USERS)
            .await,
        users
    );
}

#[tokio::test]
async fn the_documented_limits_apply_when_on_and_as_scenarios() {
    let suite = TestSuite::start_lab(
        test_options(None),
        default_lab(),
        ForticareOptions { rate_limits: true },
    )
    .await;
    suite.freeze_clock().await;
    let token = suite.v3_login(API_USER, API_PASSWORD).await;
    for i in 0..100 {
        let (status, answer) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "call {i}: {answer}");
    }
    let (status, limited) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{limited}");
    assert_envelope(&limited, -1);
    assert_eq!(limited["error"]["errorCode"], 601);
    suite.advance_clock(61).await;
    // Errors count too: after 10 in an hour every call is refused.
    for _ in 0..10 {
        let (status, _) = suite
            .v3(paths::V3_PRODUCTS_LIST, &token, json!({"pageNumber": 0}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, limited) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
    assert_eq!(
        (status, limited["error"]["errorCode"].as_i64()),
        (StatusCode::TOO_MANY_REQUESTS, Some(603))
    );
    suite.stop().await;

    // Without the flag nothing is counted; the same answers are armable.
    let suite = TestSuite::start().await;
    let token = suite.v3_login(API_USER, API_PASSWORD).await;
    for _ in 0..120 {
        let (status, _) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
        assert_eq!(status, StatusCode::OK);
    }
    for (id, status, code) in [
        (
            "forticare.v3.rate-limit-hour",
            StatusCode::TOO_MANY_REQUESTS,
            602,
        ),
        ("forticare.v3.unauthorized", StatusCode::UNAUTHORIZED, 401),
    ] {
        let (armed, answer) = suite
            .admin_post(
                "forticare",
                paths::ADMIN_SCENARIOS,
                &json!({"error": id, "times": 1}),
            )
            .await;
        assert_eq!(armed, StatusCode::CREATED, "{answer}");
        let (got, answer) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
        assert_eq!(
            (got, answer["error"]["errorCode"].as_i64()),
            (status, Some(code)),
            "{answer}"
        );
        let (got, _) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
        assert_eq!(got, StatusCode::OK, "spent");
    }
    let (armed, _) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_SCENARIOS,
            &json!({"error": "forticare.oauth.invalid-grant", "times": 1}),
        )
        .await;
    assert_eq!(armed, StatusCode::CREATED);
    let (status, answer) = suite
        .v3_token_request(json!({"username": API_USER, "password": API_PASSWORD, "client_id": "assetmanagement", "grant_type": "password"}))
        .await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_grant"))
    );
    // A v3 error armed on forticare never answers a license import.
    let (armed, _) = suite
        .admin_post(
            "forticare",
            paths::ADMIN_SCENARIOS,
            &json!({"error": "forticare.v3.rate-limit-minute"}),
        )
        .await;
    assert_eq!(armed, StatusCode::CREATED);
    let granted = suite
        .import(
            "forticare",
            "FGVM01TM00000001",
            &[],
            "1111-2222-3333-4444-5555",
        )
        .await;
    assert_eq!(granted.error, None);
}

/// With `--forticare-rate-limits`: a batch stops after 5 failed units (the rest are not processed, nothing of
/// them registered) and counts as one error against the 10 an hour; 1,000 calls in an hour get errorCode
/// 602 until the oldest ages out (the clock moved by the lab clock, never slept).
#[tokio::test]
async fn a_batch_stops_after_five_errors_and_the_hour_limit_answers_602() {
    let suite = TestSuite::start_lab(
        test_options(None),
        default_lab(),
        ForticareOptions { rate_limits: true },
    )
    .await;
    suite.freeze_clock().await;
    let token = suite.v3_login(API_USER, API_PASSWORD).await;
    let (_, products_before) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
    let units: Vec<Value> = (0..10)
        .map(|i| {
            let serial = format!("FGT60FTK2000{i:04}");
            if i < 5 {
                json!({"serialNumber": serial})
            } else {
                json!({"serialNumber": serial, "cloudKey": "ABC12345"})
            }
        })
        .collect();
    let (status, stopped) = suite
        .v3(
            paths::V3_PRODUCTS_REGISTER,
            &token,
            json!({"registrationUnits": units}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{stopped}");
    assert_envelope(&stopped, 2);
    assert_eq!(stopped["error"]["errorCode"], 301);
    let messages: Vec<&str> = stopped["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages[..5],
        ["Product-> FortiCloud Key is Required."; 5],
        "{stopped}"
    );
    assert_eq!(
        messages[5..],
        [protocol::modeled::V3_BATCH_STOPPED.text; 5],
        "{stopped}"
    );
    let (_, products_after) = suite.v3(paths::V3_PRODUCTS_LIST, &token, json!({})).await;
    assert_eq!(
        products_after["assets"], products_before["assets"],
        "nothing of a stopped batch is registered"
    );

    // The stopped batch was one error: 8 more leave room for one good call, the 10th closes the hour.
    for _ in 0..8 {
        let (status, _) = suite
            .v3(paths::V3_PRODUCTS_LIST, &token, json!({"pageNumber": 0}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let (status, answer) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, _) = suite
        .v3(paths::V3_PRODUCTS_LIST, &token, json!({"pageNumber": 0}))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, limited) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
    assert_eq!(
        (status, limited["error"]["errorCode"].as_i64()),
        (StatusCode::TOO_MANY_REQUESTS, Some(603)),
        "{limited}"
    );

    // An hour later every count has aged out; 1,000 calls in the next hour (100 a minute) are the most.
    suite.advance_clock(3600).await;
    for minute in 0..10 {
        for call in 0..100 {
            let (status, answer) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
            assert_eq!(
                status,
                StatusCode::OK,
                "minute {minute}, call {call}: {answer}"
            );
        }
        suite.advance_clock(61).await;
    }
    let (status, limited) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{limited}");
    assert_envelope(&limited, -1);
    assert_eq!(
        (
            limited["error"]["errorCode"].as_i64(),
            limited["error"]["message"].as_str()
        ),
        (Some(602), Some(protocol::modeled::V3_RATE_LIMIT_HOUR.text)),
        "{limited}"
    );
    // A refused call is not counted: once the first minute's calls are an hour old, calls pass again.
    suite.advance_clock(3600 - 10 * 61).await;
    let (status, answer) = suite.v3(paths::V3_LICENSES_LIST, &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

#[tokio::test]
async fn the_real_host_names_connect_with_the_lab_ca_and_the_journal_keeps_no_secret() {
    let suite = TestSuite::start().await;
    let base = suite.url("forticare");
    let port = base.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let ca = reqwest::Certificate::from_pem(suite.lab().ca_pem().unwrap().as_bytes()).unwrap();
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // A client pointed at the real host names (a hosts entry) with only the lab CA trusted.
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .resolve("customerapiauth.fortinet.com", loopback)
        .resolve("support.fortinet.com", loopback)
        .build()
        .unwrap();
    let answer: Value = client
        .post(format!("https://customerapiauth.fortinet.com:{port}{}", paths::V3_OAUTH_TOKEN))
        .json(&json!({"username": API_USER, "password": API_PASSWORD, "client_id": "assetmanagement", "grant_type": "password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = answer["access_token"].as_str().unwrap().to_owned();
    let response = client
        .post(format!(
            "https://support.fortinet.com:{port}{}",
            paths::V3_LICENSES_LIST
        ))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    let journal: Value = suite.admin_get("forticare", paths::ADMIN_JOURNAL).await;
    let text = journal.to_string();
    assert!(text.contains("v3/licenses/list"), "the calls are journaled");
    for secret in [
        token.as_str(),
        API_PASSWORD,
        answer["refresh_token"].as_str().unwrap(),
    ] {
        assert!(!text.contains(secret), "{secret} leaked into the journal");
    }
    // The SoftToken journal still shows token serials.
    let (_, polled) = (
        0,
        suite
            .poll("FGVM01TM00000001", &[], &["FTKMOB00C82980A7"])
            .await,
    );
    assert!(TOKEN_NOT_OWNED.matches(polled.tokens[0].error.as_ref().unwrap()));
}

/// The Python client written from the documented shapes (`tests/python/forticare_v3_client.py`), driving
/// the real HTTP API. Skipped (saying so) where Python or `requests` is missing, unless
/// `FORTIMOCK_REQUIRE_PYTHON` is set, as CI sets it.
#[tokio::test]
async fn python_client() {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let available = std::process::Command::new(&python)
        .args(["-c", "import requests"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("FORTIMOCK_REQUIRE_PYTHON").is_none(),
            "{python} with `requests` is required (FORTIMOCK_REQUIRE_PYTHON is set)"
        );
        eprintln!("python_client: skipped, {python} with `requests` is not available");
        return;
    }
    let suite = TestSuite::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, suite.lab().ca_pem().unwrap()).unwrap();
    // The client trusts only the lab CA: no system roots, no disabled checks.
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/test_forticare_v3.py");
    let base = suite.url("forticare");
    let ftm = suite.url("ftm");
    let mut command = std::process::Command::new(&python);
    command
        .arg(&script)
        .env(
            "FORTICARE_TOKEN_URL",
            format!("{base}{}", paths::V3_OAUTH_TOKEN),
        )
        .env("FORTICARE_API_BASE", format!("{base}{}", paths::V3_BASE))
        .env("FORTIMOCK_FTM_URL", ftm)
        .env("FORTICARE_API_USER", API_USER)
        .env("FORTICARE_API_PASSWORD", API_PASSWORD)
        .env("REQUESTS_CA_BUNDLE", &ca);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
}

/// One curl of README's v3 section: the path after `$V3` and the JSON body.
struct ReadmeCall {
    path: String,
    body: Value,
}

/// README's v3 section, read from README.md itself so this test fails when the README drifts: the token
/// request's body, and each `curl $C $V3/… -d '…'` in order.
fn readme_v3_examples() -> (Value, Vec<ReadmeCall>) {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let start = readme
        .find("## FortiCare's asset-management API (v3)")
        .expect("README has the v3 section");
    let section = &readme[start..];
    let section = &section[..section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3)];
    let body_of = |line: &str| -> Value {
        let quoted = &line[line.find("-d '").expect("a -d body") + 4..];
        serde_json::from_str(&quoted[..quoted.rfind('\'').unwrap()])
            .unwrap_or_else(|e| panic!("README's body is not JSON ({e}): {line}"))
    };
    assert!(
        section.contains(&format!("$F{} ", paths::V3_OAUTH_TOKEN)),
        "README's token request uses {}",
        paths::V3_OAUTH_TOKEN
    );
    let token_body = body_of(
        section
            .lines()
            .find(|l| l.contains("-d '{\"username\""))
            .expect("README's token request"),
    );
    let calls: Vec<ReadmeCall> = section
        .lines()
        .filter_map(|line| line.trim().strip_prefix("curl $C $V3"))
        .map(|rest| ReadmeCall {
            path: format!("{}{}", paths::V3_BASE, &rest[..rest.find(' ').unwrap()]),
            body: body_of(rest),
        })
        .collect();
    (token_body, calls)
}

#[tokio::test]
async fn every_readme_v3_example_succeeds_on_a_fresh_suite() {
    let (token_body, calls) = readme_v3_examples();
    // One call per endpoint, as the README promises.
    let mut paths_shown: Vec<&str> = calls.iter().map(|c| c.path.as_str()).collect();
    paths_shown.sort_unstable();
    let mut endpoints = vec![
        paths::V3_LICENSES_REGISTER,
        paths::V3_LICENSES_LIST,
        paths::V3_LICENSES_DOWNLOAD,
        paths::V3_PRODUCTS_LIST,
        paths::V3_PRODUCTS_DETAILS,
        paths::V3_PRODUCTS_REGISTER,
        paths::V3_PRODUCTS_TRANSFER,
    ];
    endpoints.sort_unstable();
    assert_eq!(paths_shown, endpoints);

    let suite = TestSuite::start().await;
    let (status, answer) = suite.v3_token_request(token_body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let token = answer["access_token"].as_str().unwrap().to_owned();
    for call in calls {
        let (status, answer) = suite.v3(&call.path, &token, call.body.clone()).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "{} {}: {answer}",
            call.path,
            call.body
        );
        assert_envelope(&answer, 0);
    }
}
