//! Fuzz target: `SoftToken.ActivationLicenseRequest` as forticare reads it: the envelope, the decode, the
//! requesting cluster, the license code, the reply header; never a panic, and a decoded request survives
//! its own wire encoding unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use protocol::envelope::{Envelope, Inbound};
use protocol::id::{ApplianceSerial, LicenseActivationCode};
use protocol::license::ActivationLicenseRequest;

fuzz_target!(|data: &[u8]| {
    let Ok(inbound) = Inbound::parse(data) else {
        return;
    };
    let Ok(request) = inbound.decode::<ActivationLicenseRequest>() else {
        return;
    };
    if let Ok(cluster) = request.header.cluster() {
        let requester = &cluster[0];
        // The request is encoded again below, so its header is answered from a copy.
        let header = request
            .header
            .clone()
            .reply(|member: Option<&ApplianceSerial>| {
                protocol::modeled::member_error(member, requester, |s| cluster.contains(s))
            });
        assert_eq!(
            header.clustered_sns.len(),
            request.header.clustered_sns.len()
        );
    }
    if let Ok(code) = request
        .license_activation_code
        .parse::<LicenseActivationCode>()
    {
        // The canonical form parses back to the same code.
        assert_eq!(
            code.to_string().parse::<LicenseActivationCode>().ok(),
            Some(code)
        );
    }
    let again = Inbound::parse(&Envelope::to_vec(&request))
        .and_then(Inbound::decode::<ActivationLicenseRequest>)
        .expect("a decoded request re-encodes to a decodable one");
    assert_eq!(again, request);
});
