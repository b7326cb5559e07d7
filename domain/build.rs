// `sqlx::migrate!` embeds `migrations/` at compile time; without this, adding a migration
// file would not rebuild the binary and it would silently miss the new migration.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
