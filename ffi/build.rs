//! Gives libaccounts.so its SONAME, cargo-c's convention: `libaccounts.so.<major>`, or for a 0.x
//! version `libaccounts.so.0.<minor>` (0.x minor releases may break the ABI). Programs linked
//! against it record that name, so an incompatible release is never picked up by accident
//! (docs/distribution.md, "Install").

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let abi = if major == "0" { format!("0.{minor}") } else { major };
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libaccounts.so.{abi}");
    }
}
