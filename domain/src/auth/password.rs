//! Password hashing with argon2id at OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// OWASP Password Storage Cheat Sheet, argon2id minimum: m = 19 MiB, t = 2, p = 1.
const MEMORY_KIB: u32 = 19 * 1024;
const ITERATIONS: u32 = 2;
const LANES: u32 = 1;
/// Shortest password accepted when one is set.
pub const MIN_LENGTH: usize = 10;

fn argon2() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, LANES, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of a new password.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source works");
    let salt = SaltString::encode_b64(&salt).expect("16 bytes make a valid salt");
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .expect("hashing with valid parameters succeeds")
        .to_string()
}

/// True when `password` matches `phc`. An unparseable hash matches nothing.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            argon2()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn dummy() -> &'static str {
    DUMMY.get_or_init(|| hash("wangge-no-such-user"))
}

/// Makes the throwaway hash now, so that the first unknown username after a start does not
/// pay for making it (a hash more than a known name costs, which would tell them apart).
pub fn prepare() {
    dummy();
}

/// Verifies against a throwaway hash so an unknown username costs as long as a known one.
pub fn verify_nobody(password: &str) {
    let _ = verify(password, dummy());
}

/// A new random password: 16 characters from an alphabet without look-alikes.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

/// Why a new password is refused, if it is.
pub fn weakness(password: &str) -> Option<String> {
    (password.chars().count() < MIN_LENGTH)
        .then(|| format!("a password needs at least {MIN_LENGTH} characters"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_at_owasp_parameters_and_verify() {
        let phc = hash("correct horse battery");
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse batterz", &phc));
        assert!(!verify("anything", "not a hash"));
        assert_ne!(hash("same"), hash("same"), "salted");
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert!(weakness(&a).is_none());
        assert!(weakness("short").is_some());
    }
}
