//! `chatroom cert`: a self-signed certificate and key for tests and LAN use.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where to write the pair and which names it is for.
#[derive(Debug, clap::Args)]
pub struct CertArgs {
    /// Directory to write cert.pem and key.pem into (created if needed).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub out_dir: PathBuf,
    /// Names (DNS names or IP addresses) the certificate is valid for;
    /// repeatable.
    #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1", "::1"])]
    pub names: Vec<String>,
    /// Overwrite existing files.
    #[arg(long)]
    pub force: bool,
}

/// Writes `cert.pem` and `key.pem` (the key readable by the owner only);
/// returns their paths.
pub fn write_pair(args: &CertArgs) -> anyhow::Result<(PathBuf, PathBuf)> {
    let cert_path = args.out_dir.join("cert.pem");
    let key_path = args.out_dir.join("key.pem");
    for path in [&cert_path, &key_path] {
        if path.exists() && !args.force {
            anyhow::bail!("{} exists (use --force to overwrite)", path.display());
        }
    }
    let certified = rcgen::generate_simple_self_signed(args.names.clone())
        .context("cannot generate the certificate")?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("cannot create {}", args.out_dir.display()))?;
    write(&cert_path, certified.cert.pem().as_bytes(), 0o644)?;
    write(
        &key_path,
        certified.signing_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    Ok((cert_path, key_path))
}

fn write(path: &Path, contents: &[u8], mode: u32) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // `mode` applies only to a new file: one being replaced keeps its own
    // until told, and a private key must not stay readable by others.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("cannot set the permissions of {}", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))
}
