//! Personal data: residents' ID numbers, phones and names, and grid workers' phones.
//!
//! They are encrypted at rest with AES-256-GCM under a key that lives in configuration (a file
//! or the environment), never in the database, so a dump of the database holds no plaintext.
//! Responses mask them ([`mask_id_number`], [`mask_phone`], [`mask_name`]) unless the caller's
//! role needs them and asks, and every read is audited by the handler that does it.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PersonalDataError {
    #[error("the data key must be 64 hexadecimal digits (32 bytes)")]
    BadKey,
    #[error("cannot use the data key file {path}: {reason}")]
    KeyFile { path: String, reason: String },
    #[error("a sealed value could not be opened: wrong key or damaged data")]
    Unseal,
}

/// The 256-bit key personal data is sealed with. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct DataKey([u8; 32]);

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

impl DataKey {
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source works");
        Self(key)
    }

    pub fn from_hex(text: &str) -> Result<Self, PersonalDataError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(PersonalDataError::BadKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| PersonalDataError::BadKey)?;
        }
        Ok(Self(key))
    }

    fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads the key file, creating it (readable by its owner only) with a new key if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, PersonalDataError> {
        let error = |reason: String| PersonalDataError::KeyFile {
            path: path.display().to_string(),
            reason,
        };
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_hex(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                use std::io::Write;
                use std::os::unix::fs::OpenOptionsExt;
                if let Some(parent) = path.parent() {
                    std::fs::create_dir_all(parent).map_err(|e| error(e.to_string()))?;
                }
                let key = Self::generate();
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)
                    .map_err(|e| error(e.to_string()))?;
                writeln!(file, "{}", key.to_hex()).map_err(|e| error(e.to_string()))?;
                Ok(key)
            }
            Err(e) => Err(error(e.to_string())),
        }
    }
}

/// Seals and opens personal data.
#[derive(Clone)]
pub struct Cipher(Aes256Gcm);

impl fmt::Debug for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Cipher(…)")
    }
}

impl Cipher {
    pub fn new(key: &DataKey) -> Self {
        Self(Aes256Gcm::new_from_slice(&key.0).expect("a 32-byte key"))
    }

    /// A fresh random nonce followed by the ciphertext and its tag.
    pub fn seal(&self, plaintext: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).expect("the operating system's random source works");
        let mut sealed = nonce.to_vec();
        sealed.extend(
            self.0
                .encrypt(&Nonce::from(nonce), plaintext.as_bytes())
                .expect("encryption of a short value succeeds"),
        );
        sealed
    }

    pub fn open(&self, sealed: &[u8]) -> Result<String, PersonalDataError> {
        if sealed.len() < NONCE_LEN {
            return Err(PersonalDataError::Unseal);
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| PersonalDataError::Unseal)?;
        let plain = self
            .0
            .decrypt(&Nonce::from(nonce), ciphertext)
            .map_err(|_| PersonalDataError::Unseal)?;
        String::from_utf8(plain).map_err(|_| PersonalDataError::Unseal)
    }
}

/// `530402199001011234` → `5304**********1234`.
pub fn mask_id_number(id: &str) -> String {
    mask(id, 4, 4)
}

/// `13812345678` → `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    mask(phone, 3, 4)
}

/// `张小明` → `张*明`, `张明` → `张*`.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    match chars.len() {
        0 => String::new(),
        1 | 2 => format!("{}*", chars[0]),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

fn mask(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let middle = chars.len() - head - tail;
    chars[..head]
        .iter()
        .chain(std::iter::repeat_n(&'*', middle))
        .chain(&chars[chars.len() - tail..])
        .collect()
}

/// The check character of a mainland resident ID number (GB 11643-1999) for its first 17
/// digits.
pub fn id_check_digit(first17: &str) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first17
        .chars()
        .zip(WEIGHTS)
        .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_never_repeat() {
        let cipher = Cipher::new(&DataKey::generate());
        let a = cipher.seal("530402199001011234");
        let b = cipher.seal("530402199001011234");
        assert_ne!(a, b, "a fresh nonce every time");
        assert!(!String::from_utf8_lossy(&a).contains("5304021990"));
        assert_eq!(cipher.open(&a).unwrap(), "530402199001011234");
        let other = Cipher::new(&DataKey::generate());
        assert!(other.open(&a).is_err());
        let mut damaged = a.clone();
        damaged[20] ^= 1;
        assert!(cipher.open(&damaged).is_err());
    }

    #[test]
    fn masks_keep_only_the_ends() {
        assert_eq!(mask_id_number("530402199001011234"), "5304**********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_name("张小明"), "张*明");
        assert_eq!(mask_name("欧阳小明"), "欧**明");
        assert_eq!(mask_name("张明"), "张*");
        assert_eq!(mask_phone("123"), "***");
    }

    #[test]
    fn id_check_digits_follow_gb_11643() {
        // The standard's own example: 11010519491231002X.
        assert_eq!(id_check_digit("11010519491231002"), 'X');
        assert_eq!(id_check_digit("44052418800101001"), '4');
    }

    #[test]
    fn keys_round_trip_through_hex_and_files() {
        let dir =
            std::env::temp_dir().join(format!("wangge-key-{}", uuid::Uuid::new_v4().simple()));
        let path = dir.join("data.key");
        let key = DataKey::load_or_create(&path).unwrap();
        assert_eq!(DataKey::load_or_create(&path).unwrap(), key);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(DataKey::from_hex("abc").is_err());
        assert_eq!(format!("{key:?}"), "DataKey(…)");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
