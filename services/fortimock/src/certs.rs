//! `fortimock certs`: where the lab CA is and how to trust it.

use crate::cli::CertsArgs;

pub fn run(args: CertsArgs) -> anyhow::Result<()> {
    if args.lab.plain_http {
        anyhow::bail!("--plain-http uses no certificates");
    }
    let lab = args.lab.prepare()?;
    let Some(tls) = lab.tls() else {
        anyhow::bail!("no TLS configured");
    };
    if args.pem {
        print!("{}", tls.ca_pem());
        return Ok(());
    }
    match tls.ca_path() {
        Some(path) => {
            println!("lab CA       {}", path.display());
            println!(
                "trust it     curl --cacert {} https://127.0.0.1:8440/__admin/health",
                path.display()
            );
            println!(
                "             FortiOS: upload it as a CA certificate (System > Certificates > Import > CA Certificate)"
            );
        }
        None => println!(
            "the CA lives in memory (--ephemeral): fetch it from a running service at /__admin/ca.pem"
        ),
    }
    if !tls.names().is_empty() {
        println!("server cert  covers {}", tls.names().join(", "));
    }
    Ok(())
}
