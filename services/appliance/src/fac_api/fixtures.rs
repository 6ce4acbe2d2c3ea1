//! The FortiAuthenticators a lab declares (`LabFixtures::fortiauthenticators`, `protocol::fac_admin::FacFixture`):
//! each one missing from the store is created when the appliance service starts and again on reset, with its
//! host name, its administrators (their API keys as given, their login passwords) and its LDAP users. Every
//! fixture is checked before any is created, so a bad one stops the start and names itself.

use protocol::appliance::{ApplianceMode, NewAppliance};
use protocol::fac_admin::FacFixture;

use crate::error::ApplianceError;
use crate::fac_store::{FacUser, UserRefusal};
use crate::routes::Appliances;
use crate::token_policy;

/// A fixture with its values checked.
struct Checked<'a> {
    fixture: &'a FacFixture,
    host_name: Option<String>,
    ldap_users: Vec<FacUser>,
}

fn check(fixture: &FacFixture) -> Result<Checked<'_>, ApplianceError> {
    let name = &fixture.serial;
    let bad = |what: String| ApplianceError::BadRequest(format!("{name}: {what}"));
    if !protocol::modeled::is_fortiauthenticator(name.as_str()) {
        return Err(bad("not a FortiAuthenticator's serial (FAC…)".to_owned()));
    }
    let host_name = fixture
        .host_name
        .as_deref()
        .map(token_policy::check_host_name)
        .transpose()
        .map_err(bad)?;
    for admin in &fixture.admins {
        if !super::admin::valid_admin_name(&admin.name) {
            return Err(bad(format!(
                "`{}` is not an administrator name",
                admin.name
            )));
        }
        if admin.api_key.trim().is_empty() || admin.api_key.len() > 128 {
            return Err(bad(format!(
                "administrator {}: an API key of 1 to 128 characters",
                admin.name
            )));
        }
        if admin
            .password
            .as_deref()
            .is_some_and(|p| p.is_empty() || p.chars().count() > 128)
        {
            return Err(bad(format!(
                "administrator {}: a password of 1 to 128 characters",
                admin.name
            )));
        }
    }
    let ldap_users = fixture
        .ldap_users
        .iter()
        .cloned()
        .map(super::admin::ldap_user)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    Ok(Checked {
        fixture,
        host_name,
        ldap_users,
    })
}

/// Creates every declared FortiAuthenticator the store does not hold; answers how many it created.
pub(crate) async fn load(state: &Appliances) -> Result<u64, ApplianceError> {
    let checked = state
        .fixtures
        .iter()
        .map(check)
        .collect::<Result<Vec<_>, _>>()?;
    let mut created = 0;
    for Checked {
        fixture,
        host_name,
        ldap_users,
    } in checked
    {
        if state.store.appliance(&fixture.serial)?.is_some() {
            continue;
        }
        let appliance = crate::routes::create_appliance(
            state,
            &NewAppliance {
                serial: Some(fixture.serial.clone()),
                mode: Some(ApplianceMode::Fortiauthenticator),
                firmware: fixture.firmware.clone(),
                ..NewAppliance::default()
            },
        )
        .await?;
        if let Some(host) = host_name {
            state
                .store
                .update_fac(&appliance.serial, move |_, config| {
                    config.host_name = Some(host);
                    Ok(())
                })
                .await?;
        }
        let now = state.clock.now();
        for admin in &fixture.admins {
            state
                .store
                .set_api_key(&appliance.serial, &admin.name, admin.api_key.trim(), now)
                .await?;
            if let Some(password) = &admin.password {
                state
                    .store
                    .set_admin_password(&appliance.serial, &admin.name, password)
                    .await?;
            }
        }
        for user in ldap_users {
            let name = user.username.clone();
            match state.store.create_fac_user(&appliance.serial, user).await? {
                Ok(_) => {}
                Err(UserRefusal::Exists) => {
                    return Err(ApplianceError::BadRequest(format!(
                        "{}: LDAP user {name} is declared twice",
                        appliance.serial
                    )));
                }
                Err(UserRefusal::NoAppliance) => {
                    return Err(ApplianceError::NotFound(format!(
                        "no appliance {}",
                        appliance.serial
                    )));
                }
            }
        }
        created += 1;
    }
    Ok(created)
}

#[cfg(test)]
mod tests {
    use protocol::fac_admin::{FacAdminFixture, NewLdapUser};

    use super::*;

    fn fixture() -> FacFixture {
        FacFixture {
            serial: "FAC-VMTM00000042".parse().unwrap(),
            host_name: Some("FAC42.Lab.Test.".to_owned()),
            firmware: None,
            admins: vec![FacAdminFixture {
                name: "admin".to_owned(),
                api_key: "k".repeat(40),
                password: Some("Login-1".to_owned()),
            }],
            ldap_users: vec![NewLdapUser {
                username: "gina".to_owned(),
                dn: "CN=gina,DC=lab,DC=test".to_owned(),
                ..NewLdapUser::default()
            }],
        }
    }

    #[test]
    fn a_good_fixture_is_checked_whole() {
        let fixture = fixture();
        let checked = check(&fixture).unwrap();
        assert_eq!(checked.host_name.as_deref(), Some("fac42.lab.test"));
        assert_eq!(checked.ldap_users[0].dn, "CN=gina,DC=lab,DC=test");
        assert!(checked.ldap_users[0].active);
    }

    #[test]
    fn bad_fixtures_are_refused_naming_the_fac() {
        let mut bad = Vec::new();
        let mut f = fixture();
        f.serial = "FGVM01TM00000001".parse().unwrap();
        bad.push(f);
        let mut f = fixture();
        f.host_name = Some("not a host".to_owned());
        bad.push(f);
        let mut f = fixture();
        f.admins[0].name = "ad:min".to_owned();
        bad.push(f);
        let mut f = fixture();
        f.admins[0].api_key = " ".to_owned();
        bad.push(f);
        let mut f = fixture();
        f.admins[0].password = Some(String::new());
        bad.push(f);
        let mut f = fixture();
        f.ldap_users[0].dn = "gina".to_owned();
        bad.push(f);
        let mut f = fixture();
        f.ldap_users[0].mobile_number = Some("0701234567".to_owned());
        bad.push(f);
        for f in &bad {
            let Err(e) = check(f) else {
                panic!("accepted: {f:?}");
            };
            assert!(e.to_string().contains(f.serial.as_str()), "{e}");
        }
    }
}
